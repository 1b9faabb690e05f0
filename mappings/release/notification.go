package release

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/crossdock/crossdock/mappings"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/internal/txn"
)

// Notification defaults: a group is announced when it opens, and again when
// DefaultNotifyThreshold exceptions of it arrive within DefaultNotifyWindow.
const (
	DefaultNotifyThreshold = 100
	DefaultNotifyWindow    = 15 * time.Minute
	MinNotifyWindow        = time.Minute
)

// NotificationConfig is one environment's outbound webhook for exception
// groups (Slack- and Teams-compatible JSON). URL is the decrypted webhook
// URL and lives only in memory: Slack's and Teams' webhook URLs are
// themselves the credential, so it is sealed like a target's secret, and
// String and LogValue leave it out. URLHint (scheme and host) is what pages
// show.
type NotificationConfig struct {
	EnvironmentID int64
	Enabled       bool
	URL           string
	URLHint       string
	// Threshold exceptions of one group within Window make a second notice
	// (at most one per Window).
	Threshold int
	Window    time.Duration
	// Approvals: also announce each promotion request that waits for an
	// approver in this environment, once, when it is filed.
	Approvals      bool
	UpdatedByEmail string
	UpdatedAt      time.Time
}

// String leaves the URL out.
func (c NotificationConfig) String() string {
	return fmt.Sprintf("notifications of environment %d to %s (threshold %d in %s, enabled %t)", c.EnvironmentID, c.URLHint, c.Threshold, c.Window, c.Enabled)
}

// LogValue leaves the URL out of logs.
func (c NotificationConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.Int64("environment_id", c.EnvironmentID), slog.String("url", c.URLHint),
		slog.Int("threshold", c.Threshold), slog.Duration("window", c.Window), slog.Bool("enabled", c.Enabled))
}

// Masked is what an audit entry records: everything but the URL's path.
func (c NotificationConfig) Masked() map[string]any {
	return map[string]any{"url": c.URLHint, "enabled": c.Enabled, "threshold": c.Threshold, "window": c.Window.String(), "approvals": c.Approvals}
}

// URLHint is what may be shown of a webhook URL: scheme and host.
func URLHint(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unreadable URL)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

func checkWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return &fault.Error{Code: fault.Invalid, Message: "the webhook URL must be an http(s) URL such as https://hooks.slack.com/services/…, without a user name or password", Fields: map[string]string{"url": "not an http(s) URL"}}
	}
	return nil
}

// NotificationConfigGet returns an environment's notification webhook with
// its URL opened, or NotFound.
func NotificationConfigGet(ctx context.Context, db txn.DBTX, sealer *secret.Sealer, envID int64) (NotificationConfig, error) {
	var c NotificationConfig
	var sealed []byte
	var windowMS int64
	err := db.QueryRow(ctx, notificationConfigSelect, envID).
		Scan(&c.EnvironmentID, &c.Enabled, &sealed, &c.URLHint, &c.Threshold, &windowMS, &c.Approvals, &c.UpdatedByEmail, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return NotificationConfig{}, fault.Errorf(fault.NotFound, "no notification webhook is configured for this environment")
	}
	if err != nil {
		return NotificationConfig{}, fmt.Errorf("notification config: %w", err)
	}
	c.Window = time.Duration(windowMS) * time.Millisecond
	if sealer == nil {
		return NotificationConfig{}, fault.Errorf(fault.Unavailable, "the notification webhook is stored sealed but CROSSDOCK_SECRET_KEY is not set")
	}
	plain, err := sealer.Open(sealed)
	if err != nil {
		return NotificationConfig{}, fault.Wrap(err, fault.Internal, "the notification webhook URL cannot be decrypted; was CROSSDOCK_SECRET_KEY changed? Enter the URL again")
	}
	c.URL = string(plain)
	return c, nil
}

// NotificationConfigList returns the configured webhooks by environment id,
// without opening any URL.
func NotificationConfigList(ctx context.Context, db txn.DBTX) (map[int64]NotificationConfig, error) {
	rows, err := db.Query(ctx, notificationConfigListSelect)
	if err != nil {
		return nil, fmt.Errorf("notification configs: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (NotificationConfig, error) {
		var c NotificationConfig
		var windowMS int64
		err := r.Scan(&c.EnvironmentID, &c.Enabled, &c.URLHint, &c.Threshold, &windowMS, &c.Approvals, &c.UpdatedByEmail, &c.UpdatedAt)
		c.Window = time.Duration(windowMS) * time.Millisecond
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("notification configs: %w", err)
	}
	out := make(map[int64]NotificationConfig, len(list))
	for _, c := range list {
		out[c.EnvironmentID] = c
	}
	return out, nil
}

// NotificationConfigPut creates or replaces an environment's webhook,
// sealing the URL. An empty URL keeps the stored one (and is Invalid when
// none is stored). Zero Threshold and Window take the defaults.
func NotificationConfigPut(ctx context.Context, db txn.DBTX, sealer *secret.Sealer, c NotificationConfig, ed mappings.Editor) (NotificationConfig, error) {
	if c.Threshold == 0 {
		c.Threshold = DefaultNotifyThreshold
	}
	if c.Window == 0 {
		c.Window = DefaultNotifyWindow
	}
	if c.Threshold < 1 || c.Threshold > math.MaxInt32 {
		return NotificationConfig{}, &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("the threshold must be a whole number from 1 to %d", math.MaxInt32),
			Fields: map[string]string{"threshold": fmt.Sprintf("1 to %d", math.MaxInt32)}}
	}
	if c.Window < MinNotifyWindow {
		return NotificationConfig{}, &fault.Error{Code: fault.Invalid, Message: "the window must be at least a minute", Fields: map[string]string{"window": "at least 1m"}}
	}
	c.URL = strings.TrimSpace(c.URL)
	var sealed []byte
	if c.URL != "" {
		if err := checkWebhookURL(c.URL); err != nil {
			return NotificationConfig{}, err
		}
		if sealer == nil {
			return NotificationConfig{}, fault.Errorf(fault.Unavailable, "cannot store the webhook URL: CROSSDOCK_SECRET_KEY is not set")
		}
		var err error
		if sealed, err = sealer.Seal([]byte(c.URL)); err != nil {
			return NotificationConfig{}, fmt.Errorf("seal webhook URL: %w", err)
		}
		c.URLHint = URLHint(c.URL)
	}
	var tag interface{ RowsAffected() int64 }
	var err error
	if sealed != nil {
		tag, err = db.Exec(ctx, notificationConfigInsert,
			c.EnvironmentID, c.Enabled, sealed, c.URLHint, c.Threshold, c.Window.Milliseconds(), ed.Email, c.Approvals)
	} else {
		tag, err = db.Exec(ctx, notificationConfigUpdate,
			c.EnvironmentID, c.Enabled, c.Threshold, c.Window.Milliseconds(), ed.Email, c.Approvals)
	}
	if err != nil {
		return NotificationConfig{}, fmt.Errorf("save notification config: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return NotificationConfig{}, &fault.Error{Code: fault.Invalid, Message: "enter the webhook URL", Fields: map[string]string{"url": "required"}}
	}
	return NotificationConfigGet(ctx, db, sealer, c.EnvironmentID)
}

// NotificationConfigDelete removes an environment's webhook (and what was
// announced, so a new webhook starts afresh).
func NotificationConfigDelete(ctx context.Context, db txn.DBTX, envID int64) error {
	tag, err := db.Exec(ctx, notificationConfigDelete, envID)
	if err != nil {
		return fmt.Errorf("delete notification config: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fault.Errorf(fault.NotFound, "no notification webhook is configured for this environment")
	}
	if _, err := db.Exec(ctx, groupNoticesDelete, envID); err != nil {
		return fmt.Errorf("delete notices: %w", err)
	}
	return nil
}

// ClaimRequestsToAnnounce marks the environment's pending promotion
// requests not yet announced as announced at at, and returns their ids,
// for the notification sweep, which enqueues their notices in the same
// transaction (so each is announced once, even with two sweeps racing).
// It changes no request's state: only when it was announced.
func ClaimRequestsToAnnounce(ctx context.Context, tx pgx.Tx, envID int64, at time.Time) ([]int64, error) {
	rows, err := tx.Query(ctx, requestsAnnounceClaim, envID, at)
	if err != nil {
		return nil, fmt.Errorf("claim promotion requests to announce: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("claim promotion requests to announce: %w", err)
	}
	return ids, nil
}
