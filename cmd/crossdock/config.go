package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// config is every setting, parsed once here and passed down as values.
type config struct {
	DatabaseURL     string
	Addr            string
	BaseURL         string
	SecretKey       []byte // 32 bytes; encrypts target secrets at rest
	SecretKeySource string // "CROSSDOCK_SECRET_KEY" or the generated file's path
	DataDir         string
	LogLevel        slog.Level
	LogFormat       string
	AdminPassword   string
	TrustedProxies  []string
	SessionIdle     time.Duration
	SessionLifetime time.Duration
	MaxMessageBytes int
	// IntakeWriters is how many group commits of trigger events run at
	// once (intake.Config.Writers); 0 means the default.
	IntakeWriters int
	// PasswordHashes is how many argon2id password hashes run at once
	// (web.Config.PasswordHashes); 0 means the default.
	PasswordHashes int
	// KeyClaimTTL is how long an idempotency key is held (then reusable).
	KeyClaimTTL time.Duration
	// RescueAfter is when a running job is presumed dead and run again.
	RescueAfter time.Duration
	// PromotionKey signs exported bundles and is required on imported ones.
	PromotionKey []byte
	// Demo seeds a demo flow, key and fake targets (make run turns it on).
	Demo            bool
	DemoTargetsAddr string
	DemoFailRate    float64
	// DemoSFTPAddr is where the demo's SFTP server (the 3PL's) listens.
	DemoSFTPAddr string
	// Observability: where /metrics is served, and how often the
	// dashboard's rollups are written.
	MetricsAddr  string
	MetricsToken string
	RollupEvery  time.Duration
	OTLPEndpoint string
}

// setting is one configuration value: its variable, flag, default and help.
type setting struct {
	env, flag, def, help string
	dst                  *string
}

type rawConfig struct {
	databaseURL, addr, baseURL, secretKey, dataDir, logLevel, logFormat string
	adminPassword, trustedProxies, sessionIdle, sessionLifetime         string
	maxMessageBytes, demo, demoTargetsAddr, demoFailRate, demoSFTPAddr  string
	intakeWriters, passwordHashes                                       string
	keyClaimTTL, rescueAfter, promotionKey                              string
	metricsAddr, metricsToken, rollupEvery, otlpEndpoint                string
}

func (r *rawConfig) settings() []setting {
	return []setting{
		{"DATABASE_URL", "database-url", "", "PostgreSQL URL (postgres://user:pass@host:5432/db). `make run` and `make test` start a project-local cluster and set it when unset.", &r.databaseURL},
		{"CROSSDOCK_ADDR", "addr", ":8080", "address the web UI and API listen on; host:0 picks a free port", &r.addr},
		{"CROSSDOCK_BASE_URL", "base-url", "", "URL users reach Crossdock at (default http://localhost<addr>); https makes cookies Secure", &r.baseURL},
		{"CROSSDOCK_SECRET_KEY", "", "", "32 random bytes, base64 (openssl rand -base64 32); encrypts target secrets. When unset, one is generated once under the data dir, with a warning: fine for dev, not for production", &r.secretKey},
		{"CROSSDOCK_DATA_DIR", "data-dir", ".data", "where a generated dev secret key is kept", &r.dataDir},
		{"CROSSDOCK_LOG_LEVEL", "log-level", "info", "debug, info, warn or error", &r.logLevel},
		{"CROSSDOCK_LOG_FORMAT", "log-format", "text", "text (for people) or json (for log shippers)", &r.logFormat},
		{"CROSSDOCK_ADMIN_PASSWORD", "", "", "password of admin@localhost created at first start; random and printed once when unset", &r.adminPassword},
		{"CROSSDOCK_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed; set it behind a proxy, or every client counts as the proxy's address and per-address sign-in throttling locks them all out together", &r.trustedProxies},
		{"CROSSDOCK_SESSION_IDLE", "session-idle", "2h", "sign out after this long without a request (up to a minute sooner: a request that changes nothing in the session pushes this deadline on at most once a minute, or every quarter of this setting when that is shorter)", &r.sessionIdle},
		{"CROSSDOCK_SESSION_LIFETIME", "session-lifetime", "12h", "sign out this long after signing in, however active", &r.sessionLifetime},
		{"CROSSDOCK_DEMO", "demo", "", "1 seeds a ready-to-try demo (flow deployed to dev, API key printed once) and serves a fake ERP; make run sets it", &r.demo},
		{"CROSSDOCK_DEMO_TARGETS_ADDR", "demo-targets-addr", "127.0.0.1:8089", "where the demo's fake ERP listens", &r.demoTargetsAddr},
		{"CROSSDOCK_DEMO_FAIL_RATE", "demo-fail-rate", "0.1", "share of requests the fake ERP fails with 503 (0 to 1)", &r.demoFailRate},
		{"CROSSDOCK_DEMO_SFTP_ADDR", "demo-sftp-addr", "127.0.0.1:2222", "where the demo's SFTP server (the 3PL's, files under DATA_DIR/demo-sftp/root) listens", &r.demoSFTPAddr},
		{"CROSSDOCK_IDEMPOTENCY_KEY_TTL", "idempotency-key-ttl", "72h", "how long an idempotency key is held: the same key within it answers with the original message; at least 24h", &r.keyClaimTTL},
		{"CROSSDOCK_RESCUE_AFTER", "rescue-after", "3m", "a job running this long is presumed lost with its process (killed, crashed) and run again; keep it above 2m, the longest a delivery may take", &r.rescueAfter},
		{"CROSSDOCK_PROMOTION_KEY", "", "", "shared secret (at least 16 characters) that signs exported bundles (HMAC-SHA256); when set, imported bundles must carry a valid signature", &r.promotionKey},
		{"CROSSDOCK_MAX_MESSAGE_BYTES", "max-message-bytes", "1048576", "largest event body a trigger accepts (a batch may be 16× that); larger bodies get 413", &r.maxMessageBytes},
		{"CROSSDOCK_INTAKE_WRITERS", "intake-writers", "1", "how many group commits of trigger events run at once, 1 to 32: more commit smaller groups, which costs throughput and CPU per message on two cores (docs/benchmarks.md); on larger machines measure with make bench-load before raising it", &r.intakeWriters},
		{"CROSSDOCK_PASSWORD_HASHES", "password-hashes", "4", "how many passwords a process checks or hashes at once, 1 to 64; each takes 64 MiB (argon2id), and sign-ins beyond get 429 with Retry-After", &r.passwordHashes},
		{"CROSSDOCK_METRICS_ADDR", "metrics-addr", "", "private address serving Prometheus /metrics and Go's /debug/pprof/ (e.g. 127.0.0.1:9090), apart from the UI; unset: no separate listener", &r.metricsAddr},
		{"CROSSDOCK_METRICS_TOKEN", "", "", "when set, GET /metrics on CROSSDOCK_ADDR answers requests with Authorization: Bearer <token>", &r.metricsToken},
		{"CROSSDOCK_ROLLUP_EVERY", "rollup-every", "1m", "how often the dashboard's per-minute rollups are written (leader only)", &r.rollupEvery},
		{"CROSSDOCK_OTLP_ENDPOINT", "otlp-endpoint", "", "OTLP/HTTP traces URL (http://collector:4318/v1/traces); unset: no tracing", &r.otlpEndpoint},
	}
}

// newFlagSet registers every setting: environment variables are the
// defaults, flags override them. Secrets have no flag, so they never show
// up in a process listing.
func newFlagSet(name, summary string, getenv func(string) string, stderr io.Writer, raw *rawConfig, only ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	wanted := func(env string) bool {
		if len(only) == 0 {
			return true
		}
		for _, o := range only {
			if o == env {
				return true
			}
		}
		return false
	}
	var envHelp strings.Builder
	for _, s := range raw.settings() {
		if !wanted(s.env) {
			continue
		}
		v := getenv(s.env)
		if v == "" {
			v = s.def
		}
		*s.dst = v
		if s.flag != "" {
			fs.StringVar(s.dst, s.flag, v, s.help+" (env "+s.env+")")
		}
		def := s.def
		if def == "" {
			def = "unset"
		}
		fmt.Fprintf(&envHelp, "  %-28s %s [default: %s]\n", s.env, s.help, def)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: crossdock %s [flags]\n\n%s\n\nEnvironment (flags override):\n%s\nFlags:\n", name, summary, envHelp.String())
		fs.PrintDefaults()
	}
	return fs
}

// resolve checks every value, naming the variable at fault.
func (r *rawConfig) resolve(getenv func(string) string, needSecret bool) (config, []string, error) {
	var warnings []string
	var err0 error
	c := config{DatabaseURL: r.databaseURL, Addr: r.addr, DataDir: r.dataDir, AdminPassword: r.adminPassword, LogFormat: r.logFormat}
	if c.DatabaseURL == "" {
		return c, nil, errors.New("DATABASE_URL is not set: point it at a PostgreSQL database (postgres://user:pass@host:5432/crossdock), or use `make run`, which starts a local one")
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return c, nil, errors.New("DATABASE_URL must be a postgres:// URL such as postgres://user:pass@localhost:5432/crossdock")
	}
	if err := c.LogLevel.UnmarshalText([]byte(r.logLevel)); err != nil {
		return c, nil, fmt.Errorf("CROSSDOCK_LOG_LEVEL %q is not a level: use debug, info, warn or error", r.logLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return c, nil, fmt.Errorf("CROSSDOCK_LOG_FORMAT %q is not a format: use text or json", r.logFormat)
	}
	if c.Addr == "" {
		return c, nil, errors.New("CROSSDOCK_ADDR is empty: use host:port such as :8080")
	}
	if c.PromotionKey, err0 = parsePromotionKey(r.promotionKey); err0 != nil {
		return c, nil, err0
	}
	c.BaseURL = strings.TrimRight(r.baseURL, "/")
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, nil, fmt.Errorf("CROSSDOCK_BASE_URL %q must be an absolute http(s) URL such as https://crossdock.example.com", r.baseURL)
		}
	}
	for _, p := range strings.Split(r.trustedProxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}
	var err error
	if c.SessionIdle, err = time.ParseDuration(r.sessionIdle); err != nil || c.SessionIdle <= 0 {
		return c, nil, fmt.Errorf("CROSSDOCK_SESSION_IDLE %q must be a positive duration such as 2h or 30m", r.sessionIdle)
	}
	if c.SessionLifetime, err = time.ParseDuration(r.sessionLifetime); err != nil || c.SessionLifetime < c.SessionIdle {
		return c, nil, fmt.Errorf("CROSSDOCK_SESSION_LIFETIME %q must be a duration at least as long as CROSSDOCK_SESSION_IDLE", r.sessionLifetime)
	}
	if r.keyClaimTTL != "" { // commands that do not read it leave it empty
		if c.KeyClaimTTL, err = time.ParseDuration(r.keyClaimTTL); err != nil || c.KeyClaimTTL < 24*time.Hour {
			return c, nil, fmt.Errorf("CROSSDOCK_IDEMPOTENCY_KEY_TTL %q must be a duration of at least 24h, such as 72h", r.keyClaimTTL)
		}
	}
	if r.rescueAfter != "" {
		if c.RescueAfter, err = time.ParseDuration(r.rescueAfter); err != nil || c.RescueAfter < time.Second {
			return c, nil, fmt.Errorf("CROSSDOCK_RESCUE_AFTER %q must be a duration of at least 1s, such as 3m", r.rescueAfter)
		}
	}
	if r.maxMessageBytes != "" {
		n, err := strconv.Atoi(r.maxMessageBytes)
		if err != nil || n < 1024 || n > 64<<20 {
			return c, nil, fmt.Errorf("CROSSDOCK_MAX_MESSAGE_BYTES %q must be a number of bytes between 1024 and 67108864", r.maxMessageBytes)
		}
		c.MaxMessageBytes = n
	}
	if r.intakeWriters != "" {
		n, err := strconv.Atoi(r.intakeWriters)
		if err != nil || n < 1 || n > 32 {
			return c, nil, fmt.Errorf("CROSSDOCK_INTAKE_WRITERS %q must be a whole number from 1 to 32", r.intakeWriters)
		}
		c.IntakeWriters = n
	}
	if r.passwordHashes != "" {
		n, err := strconv.Atoi(r.passwordHashes)
		if err != nil || n < 1 || n > 64 {
			return c, nil, fmt.Errorf("CROSSDOCK_PASSWORD_HASHES %q must be a whole number from 1 to 64", r.passwordHashes)
		}
		c.PasswordHashes = n
	}
	c.MetricsAddr, c.MetricsToken = r.metricsAddr, r.metricsToken
	if r.otlpEndpoint != "" {
		u, err := url.Parse(r.otlpEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, nil, fmt.Errorf("CROSSDOCK_OTLP_ENDPOINT %q must be an http(s) URL such as http://collector:4318/v1/traces", r.otlpEndpoint)
		}
		c.OTLPEndpoint = r.otlpEndpoint
	}
	if r.metricsToken != "" && len(r.metricsToken) < 16 {
		return c, nil, errors.New("CROSSDOCK_METRICS_TOKEN must be at least 16 characters (openssl rand -hex 16)")
	}
	if r.rollupEvery != "" { // commands other than serve do not read it
		if c.RollupEvery, err = time.ParseDuration(r.rollupEvery); err != nil || c.RollupEvery < time.Second {
			return c, nil, fmt.Errorf("CROSSDOCK_ROLLUP_EVERY %q must be a duration of at least 1s such as 1m", r.rollupEvery)
		}
	}
	switch r.demo {
	case "", "0", "false":
	case "1", "true":
		c.Demo = true
		c.DemoTargetsAddr = r.demoTargetsAddr
		c.DemoSFTPAddr = r.demoSFTPAddr
		f, err := strconv.ParseFloat(r.demoFailRate, 64)
		if err != nil || f < 0 || f > 1 {
			return c, nil, fmt.Errorf("CROSSDOCK_DEMO_FAIL_RATE %q must be a number from 0 to 1", r.demoFailRate)
		}
		c.DemoFailRate = f
	default:
		return c, nil, fmt.Errorf("CROSSDOCK_DEMO %q must be 1 or 0", r.demo)
	}
	if !needSecret {
		return c, nil, nil
	}
	if r.secretKey != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.secretKey))
		if err != nil || len(key) != 32 {
			return c, nil, fmt.Errorf("CROSSDOCK_SECRET_KEY must be 32 bytes encoded in base64 (got %s); generate one with `openssl rand -base64 32`", describeKey(key, err))
		}
		c.SecretKey, c.SecretKeySource = key, "CROSSDOCK_SECRET_KEY"
		return c, nil, nil
	}
	key, path, created, err := devSecretKey(c.DataDir)
	if err != nil {
		return c, nil, fmt.Errorf("CROSSDOCK_SECRET_KEY is unset and no dev key could be kept under CROSSDOCK_DATA_DIR (%s): %w", c.DataDir, err)
	}
	c.SecretKey, c.SecretKeySource = key, path
	verb := "using"
	if created {
		verb = "generated"
	}
	warnings = append(warnings, fmt.Sprintf("CROSSDOCK_SECRET_KEY is unset; %s the development key in %s. Set CROSSDOCK_SECRET_KEY in production and keep it safe: target secrets cannot be read without it", verb, path))
	return c, warnings, nil
}

func describeKey(key []byte, err error) string {
	if err != nil {
		return "text that is not base64"
	}
	return fmt.Sprintf("%d bytes", len(key))
}

// devSecretKey reads or creates <dataDir>/secret.key (mode 0600).
func devSecretKey(dataDir string) ([]byte, string, bool, error) {
	path := filepath.Join(dataDir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) != 32 {
			return nil, path, false, fmt.Errorf("%s does not hold a base64 32-byte key; delete it to generate a new one (secrets encrypted with it become unreadable)", path)
		}
		return key, path, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, path, false, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, path, false, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, path, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return devSecretKey(dataDir) // another process made it first
	}
	if err != nil {
		return nil, path, false, err
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		return nil, path, false, err
	}
	return key, path, true, nil
}

// newLogger builds the process logger from the configuration.
func newLogger(c config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// parsePromotionKey checks CROSSDOCK_PROMOTION_KEY: unset, or at least 16
// characters (a short key would make the HMAC signature guessable).
func parsePromotionKey(v string) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	if len(v) < 16 {
		return nil, errors.New("CROSSDOCK_PROMOTION_KEY is too short: use at least 16 random characters (openssl rand -base64 32), the same on every installation that exchanges bundles")
	}
	return []byte(v), nil
}
