// Package web is Crossdock's HTTP surface: the fiber app, its middleware
// (request ids, sessions, CSRF, sign-in and roles), the browser pages and the
// JSON API. routes.go lists every URL; each handler action has its own file.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/semaphore"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/metrics"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/static"
)

// Config is the web tier's part of Crossdock's configuration, parsed once in
// cmd and passed down.
type Config struct {
	// BaseURL is where users reach Crossdock (https://crossdock.example.com).
	// Its scheme decides whether cookies are Secure; its origin is the only one
	// accepted on state-changing browser requests besides the request's own.
	BaseURL string
	// TrustedProxies lists the addresses whose X-Forwarded-For is believed.
	// Empty: the TCP peer is the client.
	TrustedProxies []string
	// BodyLimit caps request bodies in bytes (all routes; the trigger has
	// its own, smaller limit per event).
	BodyLimit int
	// MaxMessageBytes caps one event posted to a trigger (a batch may be
	// 16× that). Default DefaultMaxMessageBytes.
	MaxMessageBytes int
	// PromotionKey signs exported bundles (HMAC-SHA256) and, when set, is
	// required to verify every imported one (CROSSDOCK_PROMOTION_KEY).
	PromotionKey []byte
	// MetricsToken, when set, serves GET /metrics on the main address to
	// requests bearing it (CROSSDOCK_METRICS_TOKEN).
	MetricsToken string
	// PasswordHashes bounds the argon2id hashes (64 MiB each) computed at
	// once; a request over it is answered 429 at once. Default
	// DefaultPasswordHashes.
	PasswordHashes int
}

// Deps are the collaborators the handlers use, built and owned by cmd.
type Deps struct {
	DB       *pgxpool.Pool
	Sessions *scs.SessionManager
	Assets   *static.Assets
	// Ready reports whether the database is reachable and its schema current,
	// for /readyz.
	Ready func(ctx context.Context) error
	// Now is the clock; tests may pin it.
	Now func() time.Time
	// Queue inserts River jobs (the trigger's process jobs) in the same
	// transaction as the message.
	Queue *river.Client[pgx.Tx]
	// Intake accepts every trigger event: single (group commit), batch and
	// Prefer: wait; nil means one built on DB and Queue with the defaults.
	Intake *intake.Intake
	// Transports are the target kinds, as the deliver jobs have them
	// (jobs.Config.Transports): the designer offers their kinds, the
	// promotion gates ask which need configuration, the inbox shows what
	// a delivery is sent with. nil means jobs.Transports(DB, nil).
	Transports *transport.Registry
	// Sealer seals and opens target secrets (CROSSDOCK_SECRET_KEY).
	Sealer *secret.Sealer
	// KeyLimiter enforces each API key's rate.
	KeyLimiter *account.KeyLimiter
	// KeyCache remembers checked API keys for account.KeyCacheTTL; nil
	// means a new one.
	KeyCache *account.KeyCache
	// Metrics counts requests and accepts and serves /metrics; nil: none.
	Metrics *metrics.Metrics
	// RiverUI is River's web UI, mounted for admins at /admin/river; nil:
	// the page says it is off.
	RiverUI http.Handler
	// Tracer, when set, puts every request in an OpenTelemetry span; nil:
	// no tracing.
	Tracer trace.Tracer
}

// Server holds what handlers share. It is not a framework: handlers are maker
// methods returning fiber.Handler, wired in routes.go.
type Server struct {
	log  *slog.Logger
	cfg  Config
	deps Deps
	// gate answers triggers 503 at once while the database is down
	// (database_gate.go).
	gate *databaseGate
	// hashes holds the slots of Config.PasswordHashes (password_hashing.go).
	hashes *semaphore.Weighted
	// forwardingWarned is set once warnUntrustedForwarding has warned.
	forwardingWarned atomic.Bool
}

// NewSessions returns the scs session manager Crossdock uses: stored in
// PostgreSQL so any serve process can answer any request, under the hash of
// each token (HashedTokens wraps store), HttpOnly, SameSite=Lax, Secure
// behind https, idle and absolute timeouts.
func NewSessions(store scs.Store, secure bool, idle, lifetime time.Duration) *scs.SessionManager {
	sm := scs.New()
	sm.Store = HashedTokens(store)
	sm.IdleTimeout = idle
	sm.Lifetime = lifetime
	sm.Cookie.Name = "crossdock_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = 2 // http.SameSiteLaxMode; written by our own middleware below
	sm.Cookie.Secure = secure
	sm.Cookie.Path = "/"
	return sm
}

// NewServer builds the fiber app with every route and middleware.
func NewServer(logger *slog.Logger, cfg Config, deps Deps) *fiber.App {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.BodyLimit < cfg.MaxMessageBytes*16+4096 {
		// The batch endpoint's limit; each route checks its own.
		cfg.BodyLimit = cfg.MaxMessageBytes*16 + 4096
	}
	if deps.Intake == nil && deps.Queue != nil {
		deps.Intake = intake.New(deps.DB, deps.Queue, intake.Config{})
	}
	if deps.Transports == nil {
		deps.Transports = pipeline.Transports(deps.DB, nil)
	}
	if deps.KeyLimiter == nil {
		deps.KeyLimiter = account.NewKeyLimiter()
	}
	if deps.KeyCache == nil {
		deps.KeyCache = account.NewKeyCache(account.KeyCacheTTL)
	}
	if cfg.PasswordHashes <= 0 {
		cfg.PasswordHashes = DefaultPasswordHashes
	}
	s := &Server{log: logger, cfg: cfg, deps: deps, hashes: semaphore.NewWeighted(int64(cfg.PasswordHashes))}
	if deps.DB != nil {
		s.gate = newDatabaseGate(deps.DB.Ping)
	}
	app := fiber.New(fiber.Config{
		AppName:                 "crossdock",
		ErrorHandler:            s.handleError,
		BodyLimit:               cfg.BodyLimit,
		ReadBufferSize:          maxHeaderBytes,
		ReadTimeout:             30 * time.Second,
		WriteTimeout:            60 * time.Second,
		IdleTimeout:             120 * time.Second,
		DisableStartupMessage:   true,
		EnableTrustedProxyCheck: true,
		TrustedProxies:          cfg.TrustedProxies,
		ProxyHeader:             proxyHeader(cfg.TrustedProxies),
	})
	s.routes(app)
	return app
}

// maxHeaderBytes caps a request's line and headers together (fiber's
// default read buffer); more is refused with 431 before any handler runs.
const maxHeaderBytes = 4096

func proxyHeader(trusted []string) string {
	if len(trusted) == 0 {
		return ""
	}
	return fiber.HeaderXForwardedFor
}
