package release

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crossdock/crossdock/engine/format"
	"github.com/crossdock/crossdock/mappings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/internal/txn"
)

// AuthKind is how a target authenticates Crossdock's requests.
type AuthKind string

// The auth kinds.
const (
	AuthNone   AuthKind = "none"
	AuthBearer AuthKind = "bearer" // Authorization: Bearer <secret>
	AuthBasic  AuthKind = "basic"  // Authorization: Basic base64(username:secret)
	AuthHeader AuthKind = "header" // <AuthHeaderName>: <secret>, for API-key headers
)

// RetryPolicy says how often and for how long a failed delivery is retried:
// at most MaxAttempts attempts in all, waiting BaseDelay·2ⁿ (jittered,
// capped at MaxDelay) between them, and never past Window after the first.
type RetryPolicy struct {
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
	Window      time.Duration
}

// BreakerPolicy opens a target's circuit after FailureThreshold consecutive
// failures; while open, deliveries wait OpenFor instead of hammering a target
// that is down.
type BreakerPolicy struct {
	FailureThreshold int
	OpenFor          time.Duration
}

// TargetConfig is how one environment reaches one named target. Secret is the
// decrypted credential and lives only in memory: it is sealed before it is
// stored, and Masked, String and LogValue leave it out, so pages, APIs and
// logs cannot show it by accident.
type TargetConfig struct {
	EnvironmentID int64
	Target        string
	// URLTemplate is the endpoint. It may contain {messageId},
	// {deliveryId}, {correlationId}, {route}, {target} and ${VAR} (an
	// environment variable); substituted values are URL-path-escaped.
	URLTemplate string
	Method      string            // default POST
	Headers     map[string]string // sent with every request
	Auth        AuthKind
	// AuthHeaderName is the header carrying the secret for AuthHeader.
	AuthHeaderName string
	// Username is for AuthBasic.
	Username string
	// Secret is the token, password or API key; never stored in clear.
	Secret string
	// KeepSecret makes TargetConfigPut keep the stored secret when Secret is
	// empty, so a form that never shows the secret can save other fields.
	KeepSecret bool
	// HasSecret reports, on a loaded config, whether a secret is stored.
	HasSecret bool
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// RatePerSecond caps requests per second from each Crossdock process;
	// 0 means unlimited.
	RatePerSecond float64
	Retry         RetryPolicy
	Breaker       BreakerPolicy
	// Settings are what kinds other than http configure, by field name;
	// the kind's transport describes and checks them. Never secrets.
	Settings map[string]string
	// Format is how the target receives bodies: JSON (the zero Spec),
	// XML or CSV with their settings. The pipeline encodes each
	// delivery's mapped output in it before sending.
	Format         format.Spec
	UpdatedByEmail string
	UpdatedAt      time.Time
}

// MaxTargetTimeout caps one attempt: a target slower than a minute should
// accept the request and work asynchronously. The cap also bounds how long
// a deliver job runs, which is what lets a crashed process's jobs be
// rescued within minutes (jobs.Config.RescueAfter).
const MaxTargetTimeout = time.Minute

// A kind's settings are bounded so that a configuration stays a small row.
const (
	MaxSettings      = 32
	MaxSettingLength = 1024
)

// The defaults every new target configuration starts with.
const (
	DefaultTargetTimeout    = 10 * time.Second
	DefaultMaxAttempts      = 5
	DefaultBaseDelay        = time.Second
	DefaultMaxDelay         = time.Minute
	DefaultRetryWindow      = 15 * time.Minute
	DefaultFailureThreshold = 5
	DefaultOpenFor          = 30 * time.Second
)

// DefaultTargetConfig returns a configuration with the defaults: 10 s
// timeout, 5 attempts from 1 s to 1 min back-off within 15 min, a breaker
// that opens for 30 s after 5 consecutive failures, no rate limit.
func DefaultTargetConfig(envID int64, target string) TargetConfig {
	return TargetConfig{
		EnvironmentID: envID, Target: target, Method: http.MethodPost, Headers: map[string]string{}, Auth: AuthNone,
		Timeout: DefaultTargetTimeout,
		Retry:   RetryPolicy{MaxAttempts: DefaultMaxAttempts, BaseDelay: DefaultBaseDelay, MaxDelay: DefaultMaxDelay, Window: DefaultRetryWindow},
		Breaker: BreakerPolicy{FailureThreshold: DefaultFailureThreshold, OpenFor: DefaultOpenFor},
		Format:  format.Spec{Kind: format.JSON},
	}
}

// MaskedTargetConfig is a TargetConfig without its secret, for pages, APIs
// and logs. HasSecret says whether one is stored.
type MaskedTargetConfig struct {
	EnvironmentID  int64             `json:"environmentId"`
	Target         string            `json:"target"`
	URLTemplate    string            `json:"urlTemplate"`
	Method         string            `json:"method"`
	Headers        map[string]string `json:"headers"`
	Auth           AuthKind          `json:"auth"`
	AuthHeaderName string            `json:"authHeaderName,omitempty"`
	Username       string            `json:"username,omitempty"`
	HasSecret      bool              `json:"hasSecret"`
	Timeout        time.Duration     `json:"timeout"`
	RatePerSecond  float64           `json:"ratePerSecond"`
	Retry          RetryPolicy       `json:"retry"`
	Breaker        BreakerPolicy     `json:"breaker"`
	Settings       map[string]string `json:"settings,omitempty"`
	Format         format.Spec       `json:"format"`
	UpdatedByEmail string            `json:"updatedByEmail,omitempty"`
	UpdatedAt      time.Time         `json:"updatedAt"`
}

// Masked returns the configuration without the secret.
func (c TargetConfig) Masked() MaskedTargetConfig {
	return MaskedTargetConfig{
		EnvironmentID: c.EnvironmentID, Target: c.Target, URLTemplate: c.URLTemplate, Method: c.Method,
		Headers: c.Headers, Auth: c.Auth, AuthHeaderName: c.AuthHeaderName, Username: c.Username,
		HasSecret: c.HasSecret || c.Secret != "", Timeout: c.Timeout, RatePerSecond: c.RatePerSecond,
		Retry: c.Retry, Breaker: c.Breaker, Settings: c.Settings, Format: c.Format, UpdatedByEmail: c.UpdatedByEmail, UpdatedAt: c.UpdatedAt,
	}
}

// Config is the configuration without its secret (HasSecret says whether
// one is stored), for what reads settings but never sends.
func (m MaskedTargetConfig) Config() TargetConfig {
	return TargetConfig{
		EnvironmentID: m.EnvironmentID, Target: m.Target, URLTemplate: m.URLTemplate, Method: m.Method, Headers: m.Headers, Auth: m.Auth,
		AuthHeaderName: m.AuthHeaderName, Username: m.Username, HasSecret: m.HasSecret, Timeout: m.Timeout, RatePerSecond: m.RatePerSecond,
		Retry: m.Retry, Breaker: m.Breaker, Settings: m.Settings, Format: m.Format, UpdatedByEmail: m.UpdatedByEmail, UpdatedAt: m.UpdatedAt,
	}
}

// String formats the masked configuration, so %v and %s never print the
// secret.
func (c TargetConfig) String() string {
	return fmt.Sprintf("%+v", c.Masked())
}

// GoString is String, so %#v does not print the secret either.
func (c TargetConfig) GoString() string { return c.String() }

// LogValue makes slog log the masked configuration.
func (c TargetConfig) LogValue() slog.Value {
	return slog.AnyValue(c.Masked())
}

// maxStoredDelay is the longest delay a target's configuration holds: its
// milliseconds are a PostgreSQL integer.
const maxStoredDelay = math.MaxInt32 * time.Millisecond

// Check validates the configuration with messages naming the field.
func (c TargetConfig) Check() error {
	fields := map[string]string{}
	if strings.TrimSpace(c.Target) == "" {
		fields["target"] = "name the target as the definition does"
	}
	switch c.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodGet:
	default:
		fields["method"] = "one of POST, PUT, PATCH, DELETE, GET"
	}
	if c.URLTemplate != "" && !strings.HasPrefix(c.URLTemplate, "http://") && !strings.HasPrefix(c.URLTemplate, "https://") {
		fields["urlTemplate"] = "an http:// or https:// URL"
	}
	switch c.Auth {
	case AuthNone, AuthBearer, AuthBasic:
	case AuthHeader:
		if http.CanonicalHeaderKey(strings.TrimSpace(c.AuthHeaderName)) == "" {
			fields["authHeaderName"] = "the header that carries the API key, e.g. X-Api-Key"
		}
	default:
		fields["auth"] = "none, bearer, basic or header"
	}
	if c.Auth == AuthBasic && c.Username == "" {
		fields["username"] = "required for basic authentication"
	}
	if c.Timeout <= 0 || c.Timeout > MaxTargetTimeout {
		fields["timeout"] = "more than zero and at most 60 s"
	}
	if c.RatePerSecond < 0 {
		fields["ratePerSecond"] = "zero (unlimited) or more"
	}
	if c.Retry.MaxAttempts < 1 || c.Retry.MaxAttempts > math.MaxInt32 {
		fields["maxAttempts"] = "at least 1 (and at most 2147483647)"
	}
	if c.Retry.BaseDelay < 0 || c.Retry.BaseDelay > maxStoredDelay {
		fields["baseDelay"] = "zero or more, at most 24 days"
	}
	if c.Retry.MaxDelay < c.Retry.BaseDelay || c.Retry.MaxDelay > maxStoredDelay {
		fields["maxDelay"] = "at least the base delay, at most 24 days"
	}
	if c.Retry.Window <= 0 {
		fields["window"] = "more than zero"
	}
	if c.Breaker.FailureThreshold < 1 || c.Breaker.FailureThreshold > math.MaxInt32 {
		fields["failureThreshold"] = "at least 1 (and at most 2147483647)"
	}
	if c.Breaker.OpenFor <= 0 || c.Breaker.OpenFor > maxStoredDelay {
		fields["openFor"] = "more than zero, at most 24 days"
	}
	if len(c.Settings) > MaxSettings {
		fields["settings"] = fmt.Sprintf("at most %d settings", MaxSettings)
	}
	for k, v := range c.Settings {
		if len(k) > 64 || len(v) > MaxSettingLength {
			fields["settings"] = fmt.Sprintf("names of at most 64 bytes and values of at most %d bytes", MaxSettingLength)
		}
	}
	for _, p := range c.Format.Check() {
		if _, dup := fields["format."+p.Field]; !dup {
			fields["format."+p.Field] = p.Message
		}
	}
	if len(fields) > 0 {
		names := make([]string, 0, len(fields))
		for k := range fields {
			names = append(names, k)
		}
		slices.Sort(names)
		return &fault.Error{Code: fault.Invalid, Message: "fix the target configuration: " + strings.Join(names, ", "), Fields: fields}
	}
	return nil
}

func scanTarget(row pgx.Row, sealer *secret.Sealer) (TargetConfig, error) {
	var c TargetConfig
	var sealed []byte
	var timeoutMS, baseMS, maxMS, openMS int
	var windowMS int64
	err := row.Scan(&c.EnvironmentID, &c.Target, &c.URLTemplate, &c.Method, &c.Headers, &c.Auth, &c.AuthHeaderName, &c.Username,
		&sealed, &timeoutMS, &c.RatePerSecond, &c.Retry.MaxAttempts, &baseMS, &maxMS, &windowMS,
		&c.Breaker.FailureThreshold, &openMS, &c.Settings, &c.Format, &c.UpdatedByEmail, &c.UpdatedAt)
	if err != nil {
		return TargetConfig{}, err
	}
	c.Timeout = time.Duration(timeoutMS) * time.Millisecond
	c.Retry.BaseDelay = time.Duration(baseMS) * time.Millisecond
	c.Retry.MaxDelay = time.Duration(maxMS) * time.Millisecond
	c.Retry.Window = time.Duration(windowMS) * time.Millisecond
	c.Breaker.OpenFor = time.Duration(openMS) * time.Millisecond
	if c.Headers == nil {
		c.Headers = map[string]string{}
	}
	if sealed != nil {
		c.HasSecret = true
		if sealer == nil {
			return TargetConfig{}, fault.Errorf(fault.Unavailable, "target “%s” has a stored secret but CROSSDOCK_SECRET_KEY is not set; set it to the key the secret was saved with", c.Target)
		}
		plain, err := sealer.Open(sealed)
		if err != nil {
			return TargetConfig{}, fault.Wrap(err, fault.Internal, "the secret of target “"+c.Target+"” cannot be decrypted; was CROSSDOCK_SECRET_KEY changed? Enter the secret again")
		}
		c.Secret = string(plain)
	}
	return c, nil
}

// TargetConfigGet returns a target's configuration in an environment with
// its secret opened, or NotFound. sealer may be nil when no secret is
// stored.
func TargetConfigGet(ctx context.Context, db txn.DBTX, sealer *secret.Sealer, envID int64, target string) (TargetConfig, error) {
	c, err := scanTarget(db.QueryRow(ctx, targetConfigSelect, envID, target), sealer)
	if errors.Is(err, pgx.ErrNoRows) {
		return TargetConfig{}, fault.Errorf(fault.NotFound, "target “%s” is not configured in this environment; set its URL and credentials on the Environments page", target)
	}
	if err != nil {
		return TargetConfig{}, fmt.Errorf("target %s: %w", target, err)
	}
	return c, nil
}

// TargetConfigList returns an environment's target configurations, masked,
// ordered by target name. It does not decrypt anything.
func TargetConfigList(ctx context.Context, db txn.DBTX, envID int64) ([]MaskedTargetConfig, error) {
	rows, err := db.Query(ctx, targetConfigListSelect, envID)
	if err != nil {
		return nil, fmt.Errorf("list targets: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (MaskedTargetConfig, error) { return scanMaskedTarget(r) })
}

// TargetConfigMasked returns one target's configuration in an environment
// without its secret (HasSecret says whether one is stored), or NotFound.
// It does not decrypt anything.
func TargetConfigMasked(ctx context.Context, db txn.DBTX, envID int64, target string) (MaskedTargetConfig, error) {
	c, err := scanMaskedTarget(db.QueryRow(ctx, targetConfigMaskedSelect, envID, target))
	if errors.Is(err, pgx.ErrNoRows) {
		return MaskedTargetConfig{}, fault.Errorf(fault.NotFound, "target “%s” is not configured in this environment", target)
	}
	if err != nil {
		return MaskedTargetConfig{}, fmt.Errorf("target %s: %w", target, err)
	}
	return c, nil
}

func scanMaskedTarget(row pgx.Row) (MaskedTargetConfig, error) {
	var c MaskedTargetConfig
	var timeoutMS, baseMS, maxMS, openMS int
	var windowMS int64
	err := row.Scan(&c.EnvironmentID, &c.Target, &c.URLTemplate, &c.Method, &c.Headers, &c.Auth, &c.AuthHeaderName, &c.Username,
		&c.HasSecret, &timeoutMS, &c.RatePerSecond, &c.Retry.MaxAttempts, &baseMS, &maxMS, &windowMS,
		&c.Breaker.FailureThreshold, &openMS, &c.Settings, &c.Format, &c.UpdatedByEmail, &c.UpdatedAt)
	c.Timeout = time.Duration(timeoutMS) * time.Millisecond
	c.Retry.BaseDelay = time.Duration(baseMS) * time.Millisecond
	c.Retry.MaxDelay = time.Duration(maxMS) * time.Millisecond
	c.Retry.Window = time.Duration(windowMS) * time.Millisecond
	c.Breaker.OpenFor = time.Duration(openMS) * time.Millisecond
	return c, err
}

// TargetConfigPut creates or replaces a target's configuration in an
// environment, sealing the secret with sealer. With KeepSecret and an empty
// Secret the stored secret is kept; otherwise an empty Secret removes it.
// Zero durations and counts take the defaults of DefaultTargetConfig.
func TargetConfigPut(ctx context.Context, db txn.DBTX, sealer *secret.Sealer, c TargetConfig, ed mappings.Editor) (TargetConfig, error) {
	d := DefaultTargetConfig(c.EnvironmentID, c.Target)
	if c.Method == "" {
		c.Method = d.Method
	}
	c.Method = strings.ToUpper(c.Method)
	if c.Auth == "" {
		c.Auth = AuthNone
	}
	if c.Headers == nil {
		c.Headers = map[string]string{}
	}
	if c.Settings == nil {
		c.Settings = map[string]string{}
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	c.Format = c.Format.Normalized()
	if c.Retry.MaxAttempts == 0 {
		c.Retry.MaxAttempts = d.Retry.MaxAttempts
	}
	if c.Retry.BaseDelay == 0 {
		c.Retry.BaseDelay = d.Retry.BaseDelay
	}
	if c.Retry.MaxDelay == 0 {
		c.Retry.MaxDelay = max(d.Retry.MaxDelay, c.Retry.BaseDelay)
	}
	if c.Retry.Window == 0 {
		c.Retry.Window = d.Retry.Window
	}
	if c.Breaker.FailureThreshold == 0 {
		c.Breaker.FailureThreshold = d.Breaker.FailureThreshold
	}
	if c.Breaker.OpenFor == 0 {
		c.Breaker.OpenFor = d.Breaker.OpenFor
	}
	if err := c.Check(); err != nil {
		return TargetConfig{}, err
	}
	var sealed []byte
	keep := c.KeepSecret && c.Secret == ""
	if c.Secret != "" {
		if sealer == nil {
			return TargetConfig{}, fault.Errorf(fault.Unavailable, "cannot store the secret of target “%s”: CROSSDOCK_SECRET_KEY is not set", c.Target)
		}
		var err error
		if sealed, err = sealer.Seal([]byte(c.Secret)); err != nil {
			return TargetConfig{}, fmt.Errorf("seal secret: %w", err)
		}
	}
	_, err := db.Exec(ctx, targetConfigUpsert,
		c.EnvironmentID, c.Target, c.URLTemplate, c.Method, c.Headers, string(c.Auth), strings.TrimSpace(c.AuthHeaderName),
		c.Username, sealed, c.Timeout.Milliseconds(), c.RatePerSecond, c.Retry.MaxAttempts, c.Retry.BaseDelay.Milliseconds(),
		c.Retry.MaxDelay.Milliseconds(), c.Retry.Window.Milliseconds(), c.Breaker.FailureThreshold, c.Breaker.OpenFor.Milliseconds(),
		ed.Email, keep, c.Settings, c.Format)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.ForeignKeyViolation {
		return TargetConfig{}, fault.Errorf(fault.NotFound, "no environment with id %d", c.EnvironmentID)
	}
	if err != nil {
		return TargetConfig{}, fmt.Errorf("save target %s: %w", c.Target, err)
	}
	return TargetConfigGet(ctx, db, sealer, c.EnvironmentID, c.Target)
}
