package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/alexedwards/scs/pgxstore"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/jobs"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/migrations"
	"github.com/crossdock/crossdock/static"
	"github.com/crossdock/crossdock/web"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// after SIGTERM.
const shutdownTimeout = 20 * time.Second

// serveGCPercent is the collector's target for `crossdock serve` when
// GOGC is not set. The server allocates steadily per request and per
// message over a small live heap, so Go's default of 100 collects very
// often: at 200 the whole pipeline took about 6 % less CPU per message and
// delivered about 6 % more per second, for about 40 MB more resident
// memory under load (105 → 140–146 MB; docs/benchmarks.md).
const serveGCPercent = 200

// setGCPercent applies serveGCPercent unless the operator set GOGC. It
// reads the process environment, not run's getenv, because that is what
// Go's runtime read its own GOGC from.
func setGCPercent() {
	if os.Getenv("GOGC") == "" { // as for Go, empty is unset
		debug.SetGCPercent(serveGCPercent)
	}
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var raw rawConfig
	fs := newFlagSet("serve", "Serves the web UI and the JSON API and works the job queues. Refuses to start on a database whose schema is not current.", getenv, stderr, &raw)
	noWorkers := fs.Bool("no-workers", false, "serve web and API only; other processes work the queues (jobs are still enqueued)")
	workersOnly := fs.Bool("workers-only", false, "work the queues only; no web UI or API in this process")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *noWorkers && *workersOnly {
		return errors.New("--no-workers and --workers-only exclude each other")
	}
	cfg, warnings, err := raw.resolve(getenv, true)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	for _, w := range warnings {
		log.Warn(w)
	}
	setGCPercent()

	pool, err := openPool(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.Check(ctx, pool); err != nil {
		if errors.Is(err, migrations.ErrStale) {
			return fmt.Errorf("%w; run `crossdock migrate` first (`make run` does it for you)", err)
		}
		return err
	}

	created, password, err := account.EnsureFirstAdmin(ctx, pool, cfg.AdminPassword)
	if err != nil {
		return err
	}
	if created {
		msg := "created the first admin: sign in as " + account.FirstAdminEmail
		if cfg.AdminPassword == "" {
			// Printed this once so the operator can sign in; it is not stored
			// anywhere but as a hash.
			log.Warn(msg, "email", account.FirstAdminEmail, "password", password, "note", "shown only now; change it under Admin → Users")
		} else {
			log.Info(msg, "email", account.FirstAdminEmail, "password", "from CROSSDOCK_ADMIN_PASSWORD")
		}
	}

	assets, err := static.New()
	if err != nil {
		return fmt.Errorf("static assets: %w", err)
	}
	// pgxstore's own cleanup goroutine races with its StopCleanup (its
	// channel is assigned inside the goroutine) and logs through the global
	// logger, so expired sessions are deleted by the River maintenance job.
	store := pgxstore.NewWithCleanupInterval(pool, 0)

	sealer, err := secret.NewSealer(cfg.SecretKey)
	if err != nil {
		return fmt.Errorf("CROSSDOCK_SECRET_KEY (%s): %w", cfg.SecretKeySource, err)
	}
	metrics, err := observability(ctx, pool)
	if err != nil {
		return err
	}
	tracer, stopTracing, err := tracing(ctx, cfg.OTLPEndpoint)
	if err != nil {
		return err
	}
	defer stopTracing()
	transports := pipeline.Transports(pool, nil)
	queue, err := jobs.NewClient(pool, log, jobs.Config{Sealer: sealer, Transports: transports, KeyClaimTTL: cfg.KeyClaimTTL, RescueAfter: cfg.RescueAfter,
		Observer: metrics, RollupEvery: cfg.RollupEvery, Tracer: tracer, BaseURL: cfg.BaseURL})
	if err != nil {
		return err
	}
	stopMetrics, err := serveMetrics(cfg.MetricsAddr, metrics, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	// Workers run on a context that outlives the signal, so that River's own
	// Stop below decides when in-flight jobs end.
	if !*noWorkers {
		if err := queue.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start job queue: %w", err)
		}
	}
	stopQueue := func() {
		if *noWorkers {
			return
		}
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if err := queue.Stop(stopCtx); err != nil {
			log.Error("job queue shutdown", "error", err)
		}
	}
	if *workersOnly {
		log.Info("working the job queues; no web server in this process", "version", buildVersion())
		<-ctx.Done()
		log.Info("shutting down", "timeout", shutdownTimeout.String())
		stopQueue()
		log.Info("stopped")
		return nil
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("CROSSDOCK_ADDR %s: %w", cfg.Addr, err)
	}
	baseURL := cfg.BaseURL
	if baseURL == "" {
		baseURL = "http://" + localURLHost(ln.Addr())
	}
	sessions := web.NewSessions(store, strings.HasPrefix(baseURL, "https://"), cfg.SessionIdle, cfg.SessionLifetime)
	riverUI, err := riverUIHandler(ctx, queue, log)
	if err != nil {
		return err
	}
	var in *intake.Intake
	if queue != nil {
		in = intake.New(pool, queue, intake.Config{Writers: cfg.IntakeWriters})
	}
	app := web.NewServer(log, web.Config{BaseURL: baseURL, TrustedProxies: cfg.TrustedProxies, MaxMessageBytes: cfg.MaxMessageBytes,
		MetricsToken: cfg.MetricsToken, PromotionKey: cfg.PromotionKey, PasswordHashes: cfg.PasswordHashes}, web.Deps{
		Intake:     in,
		Transports: transports,
		DB:         pool,
		Sessions:   sessions,
		Assets:     assets,
		Ready: func(ctx context.Context) error {
			if err := pool.Ping(ctx); err != nil {
				return err
			}
			return migrations.Check(ctx, pool)
		},
		Now:     time.Now,
		Queue:   queue,
		Sealer:  sealer,
		Metrics: metrics,
		RiverUI: riverUI,
		Tracer:  tracer,
	})

	if cfg.Demo {
		targetsURL, err := serveDemoTargets(ctx, cfg.DemoTargetsAddr, cfg.DemoFailRate, log)
		if err != nil {
			return fmt.Errorf("CROSSDOCK_DEMO_TARGETS_ADDR: %w", err)
		}
		if err := seedDemo(ctx, pool, sealer, targetsURL, baseURL, log, stdout); err != nil {
			return err
		}
		sftpServer, err := serveDemoSFTP(ctx, cfg.DataDir, cfg.DemoSFTPAddr, log)
		if err != nil {
			return fmt.Errorf("CROSSDOCK_DEMO_SFTP_ADDR: %w", err)
		}
		if err := seedDemoSFTP(ctx, pool, sealer, sftpServer, cfg.DataDir, log, stdout); err != nil {
			return err
		}
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- app.Listener(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "url", baseURL, "version", buildVersion())

	select {
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	// Orderly shutdown: stop accepting and finish in-flight requests, then
	// let running jobs finish (River fetches no new ones), then close the
	// pool (deferred).
	log.Info("shutting down", "timeout", shutdownTimeout.String())
	if err := app.ShutdownWithTimeout(shutdownTimeout); err != nil {
		log.Error("http shutdown", "error", err)
	}
	stopQueue()
	log.Info("stopped")
	return nil
}

// localURLHost turns a listener address into something a browser can open:
// [::]:8080 → localhost:8080.
func localURLHost(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		return fmt.Sprintf("localhost:%d", tcp.Port)
	}
	return tcp.String()
}
