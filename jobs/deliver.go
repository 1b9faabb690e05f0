package jobs

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

// DeliverArgs is the job that sends one delivery to its target.
type DeliverArgs struct {
	DeliveryID uuid.UUID `json:"delivery_id" river:"unique"`
}

// Kind names the job in River's tables.
func (DeliverArgs) Kind() string { return "deliver" }

// InsertOpts makes a delivery's job unique while it is waiting or running,
// so a process job that runs twice cannot send twice, yet an inbox retry of
// a finished delivery can enqueue it again. River's own retry count is a
// safety net for unexpected errors (a database outage); the target's retry
// policy is applied by the worker with snoozes, which River does not count
// as attempts.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDeliver, MaxAttempts: 25, UniqueOpts: river.UniqueOpts{
		ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled},
	}}
}

// errTargetDown tells the circuit breaker an attempt counts as a failure of
// the target (a network error, a timeout, 408 or 5xx).
var errTargetDown = errors.New("target failed")

// ResponseExcerptLimit is how much of a target's answer an attempt keeps.
const ResponseExcerptLimit = 2048

// maxLimiterWait is the longest a worker blocks for the rate limiter; a
// longer wait snoozes the job and frees the worker slot.
const maxLimiterWait = time.Second

// DeliverWorker sends deliveries. It holds, per environment and target, a
// rate limiter and a circuit breaker; both are per process (with N
// processes the effective rate is N × the configured rate), which keeps
// every send free of extra database round trips.
type DeliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	DB     DB
	Sealer *secret.Sealer
	HTTP   *http.Client
	Logger *slog.Logger
	// JobTimeout caps the job timeout (see Timeout); zero means 2 minutes.
	JobTimeout time.Duration
	// Observer is told about attempts and circuit changes (observer.go).
	Observer Observer

	mu       sync.Mutex
	breakers map[string]*breaker
	limiters map[string]*limiter
	// latency is each target's recent answer time (a moving average), by
	// environment and target: see answersQuickly.
	latency map[string]time.Duration
}

// quickAnswer is how fast a target must have been answering lately for
// process jobs to send it their messages' first attempts themselves
// (ProcessWorker.Deliver). A slower target gets them from the deliver
// queue, so it holds up the mapping of other flows' messages only while
// it turns slow: the process jobs sending to it at that moment wait at
// most its timeout, and the answers (or timeouts) they get move its
// average past this mark.
const quickAnswer = 250 * time.Millisecond

// answersQuickly says whether the target's recent answers (or failures to
// answer) took less than quickAnswer on average; a target not tried yet
// is given the benefit of the doubt.
func (w *DeliverWorker) answersQuickly(envID int64, target string) bool {
	key := strconv.FormatInt(envID, 10) + "/" + target
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latency[key] < quickAnswer
}

// noteLatency folds one attempt's answer time into the target's average,
// weighting it one eighth.
func (w *DeliverWorker) noteLatency(envID int64, target string, took time.Duration) {
	key := strconv.FormatInt(envID, 10) + "/" + target
	w.mu.Lock()
	defer w.mu.Unlock()
	avg, seen := w.latency[key]
	if !seen {
		w.latency[key] = took
		return
	}
	w.latency[key] = avg + (took-avg)/8
}

type breaker struct {
	policy mappings.BreakerPolicy
	cb     *gobreaker.TwoStepCircuitBreaker[struct{}]
}

type limiter struct {
	perSec float64
	l      *rate.Limiter
}

// NewDeliverWorker returns a worker sending with httpClient (nil: a client
// without its own timeout, since each attempt is bounded by the target's),
// whose redirect policy it replaces with the targets' (redirect.go).
func NewDeliverWorker(db DB, sealer *secret.Sealer, httpClient *http.Client, logger *slog.Logger) *DeliverWorker {
	if httpClient == nil {
		httpClient = &http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
			DialContext: (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		}}
	}
	return &DeliverWorker{DB: db, Sealer: sealer, HTTP: targetClient(httpClient), Logger: logger,
		breakers: map[string]*breaker{}, limiters: map[string]*limiter{}, latency: map[string]time.Duration{}}
}

// deliverJobTimeout bounds a deliver job: an attempt (at most
// mappings.MaxTargetTimeout) with room for the rate limiter and the
// database. River's default of one minute would cut the slowest targets
// short.
const deliverJobTimeout = 2 * mappings.MaxTargetTimeout

// Timeout lets an attempt run as long as its target's timeout allows, but
// no longer than JobTimeout when that is set: River rescues a job only once
// it has run longer than its timeout, so this is also how long a killed
// process's deliveries wait.
func (w *DeliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration { return w.jobTimeout() }

func (w *DeliverWorker) jobTimeout() time.Duration {
	if w.JobTimeout > 0 {
		return min(w.JobTimeout, deliverJobTimeout)
	}
	return deliverJobTimeout
}

func (w *DeliverWorker) breakerFor(envID int64, target string, p mappings.BreakerPolicy) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	key := strconv.FormatInt(envID, 10) + "/" + target
	w.mu.Lock()
	defer w.mu.Unlock()
	if b := w.breakers[key]; b != nil && b.policy == p {
		return b.cb
	}
	threshold := uint32(p.FailureThreshold)
	cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        key,
		Timeout:     p.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		OnStateChange: func(name string, from, to gobreaker.State) {
			logger(w.Logger).Warn("circuit breaker", "target", name, "from", from.String(), "to", to.String())
			w.circuitChanged(envID, target, to.String())
		},
	})
	w.breakers[key] = &breaker{policy: p, cb: cb}
	return cb
}

func (w *DeliverWorker) limiterFor(envID int64, target string, perSec float64) *rate.Limiter {
	if perSec <= 0 {
		return nil
	}
	key := strconv.FormatInt(envID, 10) + "/" + target
	w.mu.Lock()
	defer w.mu.Unlock()
	if l := w.limiters[key]; l != nil && l.perSec == perSec {
		return l.l
	}
	l := rate.NewLimiter(rate.Limit(perSec), max(1, int(perSec)))
	w.limiters[key] = &limiter{perSec: perSec, l: l}
	return l
}

// pendingDelivery is a delivery with what sending it needs from its message.
type pendingDelivery struct {
	Delivery
	budgetFrom    int
	windowFrom    *time.Time
	envID         int64
	flowID        int64
	correlationID string
	receivedAt    time.Time
}

func loadDelivery(ctx context.Context, db txn.DBTX, id uuid.UUID) (pendingDelivery, error) {
	var d pendingDelivery
	var body []byte
	err := db.QueryRow(ctx, `
		select d.id, d.message_id, d.route, d.target, d.target_kind, d.body, d.status, d.attempts, d.budget_from, d.window_from,
		       m.environment_id, m.flow_id, m.correlation_id, m.received_at
		from deliveries d join messages m on m.id = d.message_id where d.id = $1`, id).
		Scan(&d.ID, &d.MessageID, &d.Route, &d.Target, &d.TargetKind, &body, &d.Status, &d.Attempts, &d.budgetFrom, &d.windowFrom,
			&d.envID, &d.flowID, &d.correlationID, &d.receivedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, fault.Errorf(fault.NotFound, "no delivery %s", id)
	}
	if err != nil {
		return d, fmt.Errorf("delivery %s: %w", id, err)
	}
	d.Body = body
	return d, nil
}

// attemptResult is the outcome of one send, before it is recorded.
type attemptResult struct {
	started    time.Time
	latency    time.Duration
	statusCode int
	excerpt    string
	err        string
	class      string // error class for exceptions: "http 503", "timeout", "network"
	retryable  bool
	retryAfter time.Duration
	delivered  bool
	captured   bool
	// redirects are the URLs the attempt was redirected to and followed
	// (same origin); redirectedTo is where a redirect it did not follow
	// pointed (another origin).
	redirects    []string
	redirectedTo string
}

// addRedirects puts the attempt's redirects, if any, in its lineage
// detail: "redirects", those followed; "redirectedTo", the one that was
// not.
func (r attemptResult) addRedirects(detail map[string]any) {
	if len(r.redirects) > 0 {
		detail["redirects"] = r.redirects
	}
	if r.redirectedTo != "" {
		detail["redirectedTo"] = r.redirectedTo
	}
}

// breakerFailure says whether the attempt counts against the target's
// circuit breaker: not when it delivered, nor when the target answered
// and refused (a 3xx or 4xx it will answer again) or paced us (429).
func (r attemptResult) breakerFailure() bool {
	return !r.delivered && r.statusCode != http.StatusTooManyRequests && !(r.statusCode >= 300 && !r.retryable)
}

// Work sends one delivery, or captures it, and records the attempt.
func (w *DeliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	d, err := loadDelivery(ctx, w.DB, job.Args.DeliveryID)
	if err != nil {
		if fault.CodeOf(err) == fault.NotFound {
			return river.JobCancel(err) // the message was deleted; nothing to send
		}
		return err
	}
	if d.Status == DeliveryDelivered || d.Status == DeliveryFailed {
		return nil
	}
	log := logger(w.Logger).With("message_id", d.MessageID, "delivery_id", d.ID, "correlation_id", d.correlationID, "target", d.Target)

	cfg, err := mappings.TargetConfigGet(ctx, w.DB, w.Sealer, d.envID, d.Target)
	switch {
	case err != nil && fault.CodeOf(err) == fault.NotFound && d.TargetKind == engine.TargetCapture:
		cfg = mappings.DefaultTargetConfig(d.envID, d.Target)
	case err != nil && (fault.CodeOf(err) == fault.NotFound || fault.CodeOf(err) == fault.Unavailable || errors.Is(err, secret.ErrOpen)):
		log.Warn("target configuration unusable", "error", err)
		return w.finishConfiguration(ctx, job, d, err)
	case err != nil:
		return err
	}
	var vars map[string]string
	if strings.Contains(cfg.URLTemplate, "${") { // most templates need no variables: skip the query
		if vars, err = mappings.Variables(ctx, w.DB, d.envID); err != nil {
			return err
		}
	}
	targetURL := expandURL(cfg.URLTemplate, d, vars)
	header := buildHeader(cfg, d)

	if d.TargetKind == engine.TargetCapture {
		if targetURL == "" {
			targetURL = "capture://" + d.Target
		}
		return w.capture(ctx, job, d, cfg, targetURL, header)
	}

	if l := w.limiterFor(d.envID, d.Target, cfg.RatePerSecond); l != nil {
		r := l.Reserve()
		if delay := r.Delay(); delay > maxLimiterWait {
			r.Cancel()
			return river.JobSnooze(delay)
		} else if delay > 0 {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				r.Cancel()
				return river.JobSnooze(0)
			}
		}
	}
	cb := w.breakerFor(d.envID, d.Target, cfg.Breaker)
	done, err := cb.Allow()
	if err != nil {
		// Open (or half-open and busy): wait instead of failing, so an
		// outage of the target does not burn the deliveries' attempts.
		wait := jitter(cfg.Breaker.OpenFor)
		err := txn.Run(ctx, w.DB, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `update deliveries set status = 'retrying', next_attempt_at = $2, last_error = $3, updated_at = now() where id = $1 and status in ('pending', 'retrying')`,
				d.ID, time.Now().Add(wait), "circuit open: the target failed repeatedly; waiting before trying again"); err != nil {
				return fmt.Errorf("delivery %s: %w", d.ID, err)
			}
			return recomputeMessageStatus(ctx, tx, d.MessageID)
		})
		if err != nil {
			return err
		}
		return river.JobSnooze(wait)
	}
	res := w.send(ctx, cfg, d, targetURL, header)
	if ctx.Err() != nil && !res.delivered {
		// Shutting down mid-request: put the job back without counting an
		// attempt; the target dedupes on the Idempotency-Key if it got it.
		done(nil)
		return river.JobSnooze(0)
	}
	if res.breakerFailure() {
		done(errTargetDown)
	} else {
		done(nil)
	}
	return w.record(ctx, job, d, cfg, res, log)
}

// expandURL fills a URL template: {messageId}, {deliveryId},
// {correlationId}, {route}, {target} and ${VAR} for environment variables.
func expandURL(tpl string, d pendingDelivery, vars map[string]string) string {
	if !strings.ContainsAny(tpl, "{$") {
		return tpl
	}
	r := strings.NewReplacer(
		"{messageId}", url.PathEscape(d.MessageID.String()),
		"{deliveryId}", url.PathEscape(d.ID.String()),
		"{correlationId}", url.PathEscape(d.correlationID),
		"{route}", url.PathEscape(d.Route),
		"{target}", url.PathEscape(d.Target),
	)
	out := r.Replace(tpl)
	return os.Expand(out, func(name string) string {
		if v, ok := vars[name]; ok {
			return url.PathEscape(v)
		}
		return "${" + name + "}"
	})
}

func buildHeader(cfg mappings.TargetConfig, d pendingDelivery) http.Header {
	h := http.Header{}
	for k, v := range cfg.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Idempotency-Key", d.ID.String())
	h.Set("X-Correlation-ID", d.correlationID)
	h.Set("User-Agent", "Crossdock")
	switch cfg.Auth {
	case mappings.AuthBearer:
		h.Set("Authorization", "Bearer "+cfg.Secret)
	case mappings.AuthBasic:
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Secret)))
	case mappings.AuthHeader:
		h.Set(cfg.AuthHeaderName, cfg.Secret)
	}
	return h
}

// maskedHeader returns the headers with the credential replaced, for
// captures and logs.
func maskedHeader(cfg mappings.TargetConfig, h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k := range h {
		out[k] = h.Get(k)
	}
	switch cfg.Auth {
	case mappings.AuthBearer, mappings.AuthBasic:
		out["Authorization"] = "••••••"
	case mappings.AuthHeader:
		out[http.CanonicalHeaderKey(cfg.AuthHeaderName)] = "••••••"
	}
	return out
}

// scrub removes the secret from text a target sent back or an error
// produced, in case either echoes it.
func scrub(cfg mappings.TargetConfig, s string) string {
	if cfg.Secret != "" {
		s = strings.ReplaceAll(s, cfg.Secret, "••••••")
		if cfg.Auth == mappings.AuthBasic {
			s = strings.ReplaceAll(s, base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Secret)), "••••••")
		}
	}
	return s
}

func (w *DeliverWorker) send(ctx context.Context, cfg mappings.TargetConfig, d pendingDelivery, targetURL string, header http.Header) attemptResult {
	res := attemptResult{started: time.Now()}
	defer func() {
		if ctx.Err() == nil {
			w.noteLatency(d.envID, d.Target, res.latency)
		}
	}()
	reqCtx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	reqCtx, redirects := withRedirectLog(reqCtx)
	var body io.Reader
	if cfg.Method != http.MethodGet {
		body = bytes.NewReader(d.Body)
	}
	req, err := http.NewRequestWithContext(reqCtx, cfg.Method, targetURL, body)
	if err != nil {
		res.err, res.class = scrub(cfg, "cannot build the request: "+err.Error()), "bad request"
		return res
	}
	req.Header = header
	resp, err := w.HTTP.Do(req)
	res.latency = time.Since(res.started)
	res.redirects = scrubAll(cfg, redirects.followed)
	if err != nil {
		res.retryable = true
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(reqCtx.Err(), context.DeadlineExceeded) {
			res.class = "timeout"
			res.err = fmt.Sprintf("no answer within %s", cfg.Timeout)
		} else {
			res.class = "network"
			res.err = scrub(cfg, err.Error())
		}
		return res
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, ResponseExcerptLimit))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // so the connection can be reused
	res.latency = time.Since(res.started)
	res.statusCode = resp.StatusCode
	res.excerpt = scrub(cfg, validUTF8(excerpt))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		res.delivered = true
	case isRedirect(code) && resp.Header.Get("Location") != "":
		// Not followed (redirect.go): it leads to another origin, or
		// would have resent the delivery without its body.
		to, elsewhere := resp.Header.Get("Location"), true
		if u, err := resp.Request.URL.Parse(to); err == nil {
			to, elsewhere = u.Redacted(), !sameOrigin(req.URL, u)
		}
		res.redirectedTo = scrub(cfg, to)
		if elsewhere {
			res.class = "redirect to another origin"
			res.err = fmt.Sprintf("the target answered %d %s, redirecting to %s; Crossdock follows redirects only within the target's origin (scheme, host and port), so nothing was sent there and the credentials stayed here. Point the target's URL at the new address if it is right",
				code, http.StatusText(code), res.redirectedTo)
		} else {
			res.class = fmt.Sprintf("redirect %d", code)
			res.err = fmt.Sprintf("the target answered %d %s, redirecting to %s; following it would resend the %s as a GET without its body, so it was not followed. Point the target's URL at the new address, or have the target answer 307 or 308",
				code, http.StatusText(code), res.redirectedTo, cfg.Method)
		}
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		res.retryable = true
		res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		res.class = fmt.Sprintf("http %d", code)
		res.err = fmt.Sprintf("the target answered %d %s", code, http.StatusText(code))
	default:
		res.class = fmt.Sprintf("http %d", code)
		res.err = fmt.Sprintf("the target refused the delivery with %d %s", code, http.StatusText(code))
	}
	return res
}

// scrubAll is scrub of each of ss.
func scrubAll(cfg mappings.TargetConfig, ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = scrub(cfg, s)
	}
	return out
}

func validUTF8(b []byte) string {
	s := string(b)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "�")
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; 0 when
// absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff is BaseDelay·2^(n-1) capped at MaxDelay, with "equal jitter"
// (half fixed, half random) so deliveries that failed together do not all
// come back at the same instant.
func backoff(p mappings.RetryPolicy, n int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + rand.N(d/10+1)
}

// record writes the attempt and its consequences in one transaction (see
// recordAttempt) that, when the delivery is finished, also completes the
// job; an unfinished delivery snoozes until its next attempt.
func (w *DeliverWorker) record(ctx context.Context, job *river.Job[DeliverArgs], d pendingDelivery, cfg mappings.TargetConfig, res attemptResult, log *slog.Logger) error {
	// The attempt happened: record it even when shutdown cancels ctx.
	ctx = context.WithoutCancel(ctx)
	var out attemptOutcome
	err := txn.Run(ctx, w.DB, func(tx pgx.Tx) error {
		var err error
		if out, err = recordAttempt(ctx, tx, d, cfg, res); err != nil {
			return err
		}
		if out.finished {
			return completeTx(ctx, tx, job)
		}
		return nil
	})
	if err != nil {
		return err
	}
	log.Info("delivery attempt", "delivered", res.delivered || res.captured, "status_code", res.statusCode, "error_class", res.class,
		"latency", res.latency, "finished", out.finished)
	w.observe(d, res, out.finished)
	if !out.finished {
		return river.JobSnooze(out.snooze)
	}
	return nil
}

// attemptOutcome is what recording an attempt decided: finished (delivered,
// captured or failed for good), else the next attempt is due after snooze.
type attemptOutcome struct {
	finished bool
	snooze   time.Duration
}

// errAttemptRecorded says another run recorded this attempt first.
var errAttemptRecorded = errors.New("the attempt was recorded by another run")

// recordAttempt writes, in tx, the attempt and its consequences: the
// delivery's new state, lineage, exceptions raised or resolved, and the
// message's status.
func recordAttempt(ctx context.Context, tx pgx.Tx, d pendingDelivery, cfg mappings.TargetConfig, res attemptResult) (attemptOutcome, error) {
	var out attemptOutcome
	var snooze time.Duration
	finished := res.delivered || res.captured
	// The attempt number and retry window come from the row loaded before
	// sending; the update below only applies if no other run recorded an
	// attempt since, so one statement can write both the attempt and the
	// delivery's new state.
	n, budgetFrom := d.Attempts+1, d.budgetFrom
	windowFrom := res.started
	if d.windowFrom != nil {
		windowFrom = *d.windowFrom
	}
	outcome := "delivered"
	status := DeliveryDelivered
	stage := StageDelivered
	detail := map[string]any{"attempt": n, "route": d.Route, "target": d.Target}
	var code *int
	if res.statusCode != 0 {
		detail["statusCode"] = res.statusCode
		code = &res.statusCode
	}
	res.addRedirects(detail)
	switch {
	case res.captured:
		outcome = "captured"
	case res.delivered:
	case res.retryable:
		delay := res.retryAfter
		if delay == 0 {
			delay = backoff(cfg.Retry, n-budgetFrom)
		}
		exhausted := n-budgetFrom >= cfg.Retry.MaxAttempts || time.Now().Add(delay).After(windowFrom.Add(cfg.Retry.Window))
		if !exhausted {
			outcome, status, stage, snooze = "retry", DeliveryRetrying, StageRetryScheduled, delay
			detail["retryIn"] = delay.String()
			detail["error"] = res.err
			if res.retryAfter > 0 {
				detail["retryAfter"] = res.retryAfter.String()
			}
			break
		}
		finished = true
		outcome, status, stage = "failed", DeliveryFailed, StageFailed
		detail["error"] = res.err + fmt.Sprintf("; gave up after %d attempts", n-budgetFrom)
	default:
		finished = true
		outcome, status, stage = "failed", DeliveryFailed, StageFailed
		detail["error"] = res.err
	}
	var next, deliveredAt *time.Time
	if status == DeliveryRetrying {
		t := time.Now().Add(snooze)
		next = &t
	}
	if status == DeliveryDelivered {
		t := time.Now()
		deliveredAt = &t
	}
	latency := res.latency
	l, err := lineageColumns([]lineage{
		{deliveryID: &d.ID, at: res.started, stage: StageDelivering, detail: map[string]any{"attempt": n, "target": d.Target}},
		{deliveryID: &d.ID, stage: stage, detail: detail, duration: &latency},
	})
	if err != nil {
		return out, err
	}
	// One statement for the delivery's new state, the attempt and the
	// two lineage events.
	var recorded int
	err = tx.QueryRow(ctx, `
		with d as (
			update deliveries set attempts = $2, window_from = $9, status = $10, last_status_code = $5, last_error = $8,
				next_attempt_at = $11, delivered_at = $12, updated_at = now()
			where id = $1 and attempts = $2 - 1
			returning id, message_id
		), a as (
			insert into delivery_attempts (delivery_id, n, started_at, latency_ms, status_code, outcome, response_excerpt, error)
			select id, $2, $3, $4, $5, $6, $7, $8 from d
		), l as (
			insert into lineage_events (message_id, delivery_id, at, stage, detail, duration_ms)
			select d.message_id, u.d, u.a, u.s, u.x::jsonb, u.n
			from d, unnest($13::uuid[], $14::timestamptz[], $15::text[], $16::text[], $17::int8[])
				with ordinality as u(d, a, s, x, n, o)
			order by u.o
		)
		select count(*) from d`,
		d.ID, n, res.started, res.latency.Milliseconds(), code, outcome, res.excerpt, res.err, windowFrom, status, next, deliveredAt,
		l.deliveryIDs, l.ats, l.stages, l.details, l.durations).Scan(&recorded)
	if err != nil {
		return out, fmt.Errorf("record attempt of delivery %s: %w", d.ID, err)
	}
	if recorded == 0 {
		// Another run recorded an attempt meanwhile (River is
		// at-least-once); fail this run so River reloads and decides again.
		return out, fmt.Errorf("delivery %s: attempt %d: %w", d.ID, n, errAttemptRecorded)
	}
	// Lock the message (see recomputeMessageStatus) in the same round
	// trip as closing the delivery's exceptions when it was delivered.
	var resolved int64
	resolution := ""
	if status == DeliveryDelivered {
		resolution = fmt.Sprintf("delivered on attempt %d", n)
	}
	if err := tx.QueryRow(ctx, `
		with lock as (
			select id from messages where id = $1 for no key update
		), r as (
			update exceptions set status = 'resolved', resolution = $3, resolved_at = now(), updated_at = now()
			where $3 <> '' and delivery_id = $2 and status in ('open', 'assigned')
			returning 1
		)
		select (select count(*) from r), (select count(*) from lock)`, d.MessageID, d.ID, resolution).Scan(&resolved, new(int64)); err != nil {
		return out, fmt.Errorf("resolve exceptions of delivery %s: %w", d.ID, err)
	}
	if resolved > 0 {
		if err := addLineage(ctx, tx, d.MessageID, lineage{deliveryID: &d.ID, stage: StageResolved, detail: map[string]any{"reason": "delivered on retry"}}); err != nil {
			return out, err
		}
	}
	if status == DeliveryFailed {
		msg := fmt.Sprintf("delivery of route %s to target “%s” failed: %s", d.Route, d.Target, detail["error"])
		if res.excerpt != "" {
			msg += "; the target said: " + truncate(res.excerpt, 300)
		}
		if err := raiseException(ctx, tx, Exception{Kind: ExceptionDelivery, EnvironmentID: d.envID, FlowID: d.flowID,
			MessageID: d.MessageID, DeliveryID: &d.ID, Stage: "deliver", ErrorClass: res.class, Message: msg}); err != nil {
			return out, err
		}
	}
	if err := recomputeLockedMessageStatus(ctx, tx, d.MessageID); err != nil {
		return out, err
	}
	out.finished, out.snooze = finished, snooze
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// capture records what would have been sent, instead of sending it.
func (w *DeliverWorker) capture(ctx context.Context, job *river.Job[DeliverArgs], d pendingDelivery, cfg mappings.TargetConfig, targetURL string, header http.Header) error {
	started := time.Now()
	if _, err := w.DB.Exec(ctx, `
		insert into captures (delivery_id, environment_id, target, method, url, headers, body)
		values ($1, $2, $3, $4, $5, $6, $7) on conflict (delivery_id) do nothing`,
		d.ID, d.envID, d.Target, cfg.Method, targetURL, maskedHeader(cfg, header), []byte(d.Body)); err != nil {
		return fmt.Errorf("capture delivery %s: %w", d.ID, err)
	}
	return w.record(ctx, job, d, cfg, attemptResult{started: started, latency: time.Since(started), captured: true}, logger(w.Logger).With("message_id", d.MessageID, "delivery_id", d.ID, "correlation_id", d.correlationID, "target", d.Target))
}

// finishConfiguration fails a delivery whose target cannot be used in its
// environment (not configured, secret unreadable) with a configuration
// exception; fixing the configuration and retrying resolves it.
func (w *DeliverWorker) finishConfiguration(ctx context.Context, job *river.Job[DeliverArgs], d pendingDelivery, cause error) error {
	msg := cause.Error()
	if fe, ok := fault.As(cause); ok {
		msg = fe.Message
	}
	return txn.Run(ctx, w.DB, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `update deliveries set status = 'failed', last_error = $2, next_attempt_at = null, updated_at = now() where id = $1`, d.ID, msg); err != nil {
			return fmt.Errorf("delivery %s: %w", d.ID, err)
		}
		if err := addLineage(ctx, tx, d.MessageID, lineage{deliveryID: &d.ID, stage: StageFailed, detail: map[string]any{"target": d.Target, "error": msg}}); err != nil {
			return err
		}
		if err := raiseException(ctx, tx, Exception{Kind: ExceptionConfiguration, EnvironmentID: d.envID, FlowID: d.flowID,
			MessageID: d.MessageID, DeliveryID: &d.ID, Stage: "deliver", ErrorClass: "target unusable: " + d.Target, Message: msg}); err != nil {
			return err
		}
		if err := recomputeMessageStatus(ctx, tx, d.MessageID); err != nil {
			return err
		}
		return completeTx(ctx, tx, job)
	})
}

// DeliveryRetry sends a delivery again with a fresh retry budget, for the
// inbox's retry action: the delivery returns to pending and a deliver job is
// enqueued in tx. A delivery already delivered is a Conflict. When the
// retry succeeds the delivery's open exception resolves itself.
func DeliveryRetry(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], deliveryID uuid.UUID) error {
	var status DeliveryStatus
	err := tx.QueryRow(ctx, `select status from deliveries where id = $1 for no key update`, deliveryID).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return fault.Errorf(fault.NotFound, "no delivery %s", deliveryID)
	}
	if err != nil {
		return fmt.Errorf("delivery %s: %w", deliveryID, err)
	}
	if status == DeliveryDelivered {
		return fault.Errorf(fault.Conflict, "delivery %s was delivered already; nothing to retry", deliveryID)
	}
	var messageID uuid.UUID
	if err := tx.QueryRow(ctx, `
		update deliveries set status = 'pending', budget_from = attempts, window_from = null, next_attempt_at = now(), updated_at = now()
		where id = $1 returning message_id`, deliveryID).Scan(&messageID); err != nil {
		return fmt.Errorf("delivery %s: %w", deliveryID, err)
	}
	if err := addLineage(ctx, tx, messageID, lineage{deliveryID: &deliveryID, stage: StageQueued, detail: map[string]any{"retry": true}}); err != nil {
		return err
	}
	if err := recomputeMessageStatus(ctx, tx, messageID); err != nil {
		return err
	}
	if _, err := client.InsertTx(ctx, tx, DeliverArgs{DeliveryID: deliveryID}, nil); err != nil {
		return fmt.Errorf("enqueue delivery %s: %w", deliveryID, err)
	}
	return nil
}
