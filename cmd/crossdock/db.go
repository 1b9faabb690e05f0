package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crossdock/crossdock/internal/pgconf"
)

// openPool connects to DATABASE_URL and checks the database answers, with a
// message that names the variable and hides the password.
func openPool(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL cannot be parsed: %v", redactErr(err, databaseURL))
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pgconf.Apply(cfg)
	// Hundreds of River workers share the pool with the web tier; pgx's
	// default (4 per CPU) starves them. A pool_max_conns in the URL wins.
	if !strings.Contains(databaseURL, "pool_max_conns") && cfg.MaxConns < 40 {
		cfg.MaxConns = 40
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %v", redactErr(err, databaseURL))
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot reach the database at DATABASE_URL (%s): %v", redactURL(databaseURL), redactErr(err, databaseURL))
	}
	return pool, nil
}

// redactURL hides the password so a URL can be logged.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "an unparsable URL"
	}
	return u.Redacted()
}

type redactedError struct{ msg string }

func (e redactedError) Error() string { return e.msg }

// redactErr keeps the database password out of error text.
func redactErr(err error, raw string) error {
	u, perr := url.Parse(raw)
	if perr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return err
	}
	return redactedError{msg: strings.ReplaceAll(err.Error(), pw, "xxxxx")}
}
