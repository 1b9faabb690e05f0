package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/migrations"
	"github.com/crossdock/crossdock/static"
	"github.com/crossdock/crossdock/web"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// after SIGTERM.
const shutdownTimeout = 20 * time.Second

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var raw rawConfig
	fs := newFlagSet("serve", "Serves the web UI and the JSON API. Refuses to start on a database whose schema is not current.", getenv, stderr, &raw)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, warnings, err := raw.resolve(getenv, true)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	for _, w := range warnings {
		log.Warn(w)
	}

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
	// logger, so expired sessions are swept here instead.
	store := pgxstore.NewWithCleanupInterval(pool, 0)
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go sweepExpiredSessions(sweepCtx, pool, log, 5*time.Minute)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("CROSSDOCK_ADDR %s: %w", cfg.Addr, err)
	}
	baseURL := cfg.BaseURL
	if baseURL == "" {
		baseURL = "http://" + localURLHost(ln.Addr())
	}
	sessions := web.NewSessions(store, strings.HasPrefix(baseURL, "https://"), cfg.SessionIdle, cfg.SessionLifetime)
	app := web.NewServer(log, web.Config{BaseURL: baseURL, TrustedProxies: cfg.TrustedProxies}, web.Deps{
		DB:       pool,
		Sessions: sessions,
		Assets:   assets,
		Ready: func(ctx context.Context) error {
			if err := pool.Ping(ctx); err != nil {
				return err
			}
			return migrations.Check(ctx, pool)
		},
		Now: time.Now,
	})

	serveErr := make(chan error, 1)
	go func() { serveErr <- app.Listener(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "url", baseURL, "version", buildVersion())

	select {
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	// Orderly shutdown: stop accepting and finish in-flight requests, then
	// (once workers exist) stop River, then close the pool (deferred).
	log.Info("shutting down", "timeout", shutdownTimeout.String())
	if err := app.ShutdownWithTimeout(shutdownTimeout); err != nil {
		log.Error("http shutdown", "error", err)
	}
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

// sweepExpiredSessions deletes expired browser sessions every interval until
// ctx ends. Every serve process runs it; the delete is idempotent.
func sweepExpiredSessions(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := pool.Exec(ctx, "delete from sessions where expiry < now()"); err != nil && ctx.Err() == nil {
				log.Warn("sweep expired sessions", "error", err)
			}
		}
	}
}
