package insight

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/store"
	"github.com/crossdock/crossdock/mappings/release"
)

// Notification events.
const (
	NoticeOpened    = "group_opened"      // a group has open exceptions again (or for the first time)
	NoticeThreshold = "threshold_reached" // a group had Threshold new exceptions within Window
	NoticeApproval  = "approval_waiting"  // a promotion request waits for an approver (when the webhook's approvals are on)
)

// NotifySweepArgs is the periodic job that decides which exception groups
// to announce. Exceptions are raised in many places (workers, the inbox's
// retries); the sweep reads them afterwards instead of hooking each one,
// so announcing costs the pipeline nothing, at the price of up to one
// sweep interval (Config.NotifyEvery) of delay.
type NotifySweepArgs struct{}

// Kind names the job in River's tables.
func (NotifySweepArgs) Kind() string { return "notify_sweep" }

// InsertOpts collapses the periodic inserts of several leaders.
func (NotifySweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: 10 * time.Second}}
}

// NotifySweepWorker finds, per environment with an enabled webhook, the
// exception groups (fingerprints) that opened or passed the threshold
// within the window, records them in exception_group_notices and enqueues
// one NotifyArgs job per notice in the same transaction. A group is open
// while it has an open or assigned exception; once every one is resolved
// or ignored, the next exception opens it again. Running twice announces
// nothing twice: the notice rows are claimed with conditional upserts.
type NotifySweepWorker struct {
	river.WorkerDefaults[NotifySweepArgs]
	DB store.DB
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
}

// Work runs one sweep.
func (w *NotifySweepWorker) Work(ctx context.Context, job *river.Job[NotifySweepArgs]) error {
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("notify sweep: %w", err)
	}
	rows, err := w.DB.Query(ctx, notificationsEnabledSelect)
	if err != nil {
		return fmt.Errorf("notify sweep: %w", err)
	}
	type envCfg struct {
		id, windowMS int64
		threshold    int
		approvals    bool
	}
	envs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (envCfg, error) {
		var e envCfg
		err := r.Scan(&e.id, &e.threshold, &e.windowMS, &e.approvals)
		return e, err
	})
	if err != nil {
		return fmt.Errorf("notify sweep: %w", err)
	}
	for _, e := range envs {
		window := time.Duration(e.windowMS) * time.Millisecond
		err := txn.Run(ctx, w.DB, func(tx pgx.Tx) error {
			// Groups nobody needs to look at any more are closed.
			if _, err := tx.Exec(ctx, noticesClose, e.id); err != nil {
				return fmt.Errorf("close groups: %w", err)
			}
			rows, err := tx.Query(ctx, fingerprintCountsSelect, e.id, now.Add(-window), now)
			if err != nil {
				return fmt.Errorf("recent groups: %w", err)
			}
			type group struct {
				fingerprint string
				count       int
				open        bool
			}
			groups, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (group, error) {
				var g group
				err := r.Scan(&g.fingerprint, &g.count, &g.open)
				return g, err
			})
			if err != nil {
				return fmt.Errorf("recent groups: %w", err)
			}
			var notices []river.InsertManyParams
			for _, g := range groups {
				args := NotifyArgs{EnvironmentID: e.id, Fingerprint: g.fingerprint, Count: g.count, Threshold: e.threshold, WindowMS: e.windowMS, At: now}
				if g.open {
					tag, err := tx.Exec(ctx, noticeOpen, e.id, g.fingerprint, now)
					if err != nil {
						return fmt.Errorf("claim opening: %w", err)
					}
					if tag.RowsAffected() == 1 {
						a := args
						a.Event = NoticeOpened
						notices = append(notices, river.InsertManyParams{Args: a})
					}
				}
				if g.count >= e.threshold {
					tag, err := tx.Exec(ctx, noticeThreshold,
						e.id, g.fingerprint, g.open, now, now.Add(-window))
					if err != nil {
						return fmt.Errorf("claim threshold: %w", err)
					}
					if tag.RowsAffected() == 1 {
						a := args
						a.Event = NoticeThreshold
						notices = append(notices, river.InsertManyParams{Args: a})
					}
				}
			}
			if e.approvals {
				ids, err := release.ClaimRequestsToAnnounce(ctx, tx, e.id, now)
				if err != nil {
					return err
				}
				for _, id := range ids {
					notices = append(notices, river.InsertManyParams{Args: NotifyArgs{EnvironmentID: e.id, Event: NoticeApproval, RequestID: id, At: now}})
				}
			}
			if len(notices) == 0 {
				return nil
			}
			if _, err := client.InsertManyTx(ctx, tx, notices); err != nil {
				return fmt.Errorf("enqueue notices: %w", err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("notify sweep of environment %d: %w", e.id, err)
		}
	}
	return nil
}

// NotifyArgs is one notice to send to an environment's webhook.
type NotifyArgs struct {
	EnvironmentID int64  `json:"environment_id"`
	Fingerprint   string `json:"fingerprint"`
	Event         string `json:"event"`
	// RequestID is the promotion request of a NoticeApproval.
	RequestID int64     `json:"request_id,omitempty"`
	Count     int       `json:"count"` // exceptions of the group within the window when the sweep ran
	Threshold int       `json:"threshold"`
	WindowMS  int64     `json:"window_ms"`
	At        time.Time `json:"at"`
}

// Kind names the job in River's tables.
func (NotifyArgs) Kind() string { return "notify" }

// InsertOpts: ten attempts spread over about forty minutes (NextRetry).
func (NotifyArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 10} }

// Notice is the JSON a webhook receives. Text is what Slack and Teams show;
// the other fields are for receivers that read them.
type Notice struct {
	Text          string    `json:"text"`
	Event         string    `json:"event"`
	Environment   string    `json:"environment"`
	Flow          string    `json:"flow"`
	Kind          string    `json:"kind"`
	Stage         string    `json:"stage"`
	ErrorClass    string    `json:"errorClass"`
	Fingerprint   string    `json:"fingerprint"`
	SampleError   string    `json:"sampleError"`
	InWindow      int       `json:"inWindow"`
	Window        string    `json:"window"`
	Threshold     int       `json:"threshold"`
	OpenCount     int       `json:"openCount"`
	FirstSeen     time.Time `json:"firstSeen"`
	LastSeen      time.Time `json:"lastSeen"`
	URL           string    `json:"url,omitempty"`
	SampleMessage string    `json:"sampleMessageId"`
}

// NotifyWorker sends notices. A webhook that does not answer 2xx (or cannot
// be reached) fails the attempt and River retries it with exponential
// back-off (BaseDelay·2ⁿ, capped at MaxDelay, jittered), like a delivery.
// The webhook URL is the credential: it never appears in errors (which
// River stores) or logs.
type NotifyWorker struct {
	river.WorkerDefaults[NotifyArgs]
	DB     store.DB
	Sealer *secret.Sealer
	// HTTPClient sends; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// BaseURL is where users reach Crossdock, for the link to the inbox;
	// empty leaves the link out.
	BaseURL string
	Logger  *slog.Logger
	// BaseDelay and MaxDelay shape retries; defaults 10 s and 10 min.
	BaseDelay, MaxDelay time.Duration
}

// NextRetry is exponential back-off with ±10 % jitter.
func (w *NotifyWorker) NextRetry(job *river.Job[NotifyArgs]) time.Time {
	base, limit := w.BaseDelay, w.MaxDelay
	if base <= 0 {
		base = 10 * time.Second
	}
	if limit <= 0 {
		limit = 10 * time.Minute
	}
	d := base
	for i := 1; i < job.Attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	d += time.Duration((rand.Float64() - 0.5) * 0.2 * float64(d))
	return time.Now().Add(d)
}

// Work sends one notice.
func (w *NotifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	a := job.Args
	cfg, err := release.NotificationConfigGet(ctx, w.DB, w.Sealer, a.EnvironmentID)
	if fault.CodeOf(err) == fault.NotFound {
		return river.JobCancel(errors.New("the environment's webhook was removed"))
	}
	if err != nil {
		return err
	}
	if !cfg.Enabled {
		return river.JobCancel(errors.New("the environment's webhook is disabled"))
	}
	var n any
	var envName string
	if a.Event == NoticeApproval {
		an, err := w.approvalNotice(ctx, a)
		if err != nil {
			return err
		}
		n, envName = an, an.Environment
	} else {
		gn, err := w.notice(ctx, a)
		if err != nil {
			return err
		}
		n, envName = gn, gn.Environment
	}
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("notice: %w", err)
	}
	client := w.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: cannot build the request", cfg.URLHint)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", fmt.Sprintf("notify-%d", job.ID))
	res, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, which is the secret
		}
		return fmt.Errorf("webhook %s: %s", cfg.URLHint, redact(err.Error(), cfg.URL))
	}
	defer res.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(res.Body, 200))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("webhook %s answered %d: %s", cfg.URLHint, res.StatusCode, redact(strings.TrimSpace(string(excerpt)), cfg.URL))
	}
	if w.Logger != nil {
		w.Logger.InfoContext(ctx, "notice sent", "event", a.Event, "environment", envName, "fingerprint", a.Fingerprint, "request", a.RequestID, "webhook", cfg.URLHint)
	}
	return nil
}

func redact(s, secretURL string) string {
	if secretURL == "" {
		return s
	}
	return strings.ReplaceAll(s, secretURL, "[webhook URL]")
}

// notice reads the group as it is now and words the notice.
func (w *NotifyWorker) notice(ctx context.Context, a NotifyArgs) (Notice, error) {
	n := Notice{Event: a.Event, Fingerprint: a.Fingerprint, InWindow: a.Count, Threshold: a.Threshold,
		Window: (time.Duration(a.WindowMS) * time.Millisecond).String()}
	var msgID string
	err := w.DB.QueryRow(ctx, noticeSelect, a.EnvironmentID, a.Fingerprint).
		Scan(&n.Environment, &n.Flow, &n.Kind, &n.Stage, &n.ErrorClass, &n.SampleError, &msgID, &n.OpenCount, &n.FirstSeen, &n.LastSeen)
	if errors.Is(err, pgx.ErrNoRows) {
		return Notice{}, river.JobCancel(errors.New("the exception group no longer exists"))
	}
	if err != nil {
		return Notice{}, fmt.Errorf("notice: %w", err)
	}
	n.SampleMessage = msgID
	if w.BaseURL != "" {
		n.URL = strings.TrimRight(w.BaseURL, "/") + "/inbox?fingerprint=" + url.QueryEscape(a.Fingerprint) + "&env=" + url.QueryEscape(n.Environment)
	}
	link := ""
	if n.URL != "" {
		link = " " + n.URL
	}
	switch a.Event {
	case NoticeThreshold:
		n.Text = fmt.Sprintf("[%s] %d %s exceptions in flow %s within %s (threshold %d): %s at %s — %s. %d open.%s",
			n.Environment, a.Count, n.Kind, n.Flow, n.Window, a.Threshold, n.ErrorClass, n.Stage, n.SampleError, n.OpenCount, link)
	default:
		n.Text = fmt.Sprintf("[%s] New %s exception group in flow %s: %s at %s — %s. %d open.%s",
			n.Environment, n.Kind, n.Flow, n.ErrorClass, n.Stage, n.SampleError, n.OpenCount, link)
	}
	return n, nil
}

// ApprovalNotice is the JSON a webhook receives when a promotion request
// waits for an approver. Text is what Slack and Teams show.
type ApprovalNotice struct {
	Text        string    `json:"text"`
	Event       string    `json:"event"`
	Environment string    `json:"environment"`
	Flow        string    `json:"flow"`
	FlowName    string    `json:"flowName"`
	Version     int       `json:"version"`
	RequestID   int64     `json:"requestId"`
	Reason      string    `json:"reason"`
	RequestedBy string    `json:"requestedBy"`
	RequestedAt time.Time `json:"requestedAt"`
	URL         string    `json:"url,omitempty"`
}

// approvalNotice reads the request as it is now and words the notice; a
// request decided (or superseded) before the notice went out is not
// announced any more.
func (w *NotifyWorker) approvalNotice(ctx context.Context, a NotifyArgs) (ApprovalNotice, error) {
	n := ApprovalNotice{Event: a.Event, RequestID: a.RequestID}
	var status string
	err := w.DB.QueryRow(ctx, approvalNoticeSelect, a.RequestID).
		Scan(&n.Environment, &n.Flow, &n.FlowName, &n.Version, &n.Reason, &n.RequestedBy, &n.RequestedAt, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return ApprovalNotice{}, river.JobCancel(errors.New("the promotion request no longer exists"))
	}
	if err != nil {
		return ApprovalNotice{}, fmt.Errorf("approval notice: %w", err)
	}
	if status != release.RequestPending {
		return ApprovalNotice{}, river.JobCancel(fmt.Errorf("the promotion request was %s before it was announced", status))
	}
	link := ""
	if w.BaseURL != "" {
		n.URL = strings.TrimRight(w.BaseURL, "/") + "/promotions/" + strconv.FormatInt(a.RequestID, 10)
		link = " " + n.URL
	}
	flow := n.Flow
	if n.FlowName != "" && n.FlowName != n.Flow {
		flow = n.FlowName + " (" + n.Flow + ")"
	}
	reason := ""
	if n.Reason != "" {
		reason = ": “" + n.Reason + "”"
	}
	n.Text = fmt.Sprintf("[%s] %s asks to promote %s v%d to %s%s. It waits for an approver.%s",
		n.Environment, n.RequestedBy, flow, n.Version, n.Environment, reason, link)
	return n, nil
}
