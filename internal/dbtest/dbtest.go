// Package dbtest gives tests their own migrated PostgreSQL database, created
// from a template so that each costs a file copy rather than a migration run.
// Tests stay isolated from each other and from the developer's data: every
// database is named crossdock_test_*, lives on the server named by
// CROSSDOCK_TEST_DATABASE_URL (`make test` sets it to the project-local
// cluster) and is dropped when the test ends.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crossdock/crossdock/internal/pgconf"
	"github.com/crossdock/crossdock/migrations"
)

// AdminURLEnv names the variable holding a superuser URL of the test server.
const AdminURLEnv = "CROSSDOCK_TEST_DATABASE_URL"

// NewDatabase creates a fresh, fully migrated database for t and returns its
// URL. It is dropped (connections and all) when t ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, true)
}

// NewEmptyDatabase creates a database with no schema at all, for tests of
// migration and of refusing to start on a stale schema.
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, false)
}

func newDatabase(t testing.TB, migrated bool) string {
	t.Helper()
	admin := os.Getenv(AdminURLEnv)
	if admin == "" {
		t.Fatalf("%s is not set: run the suite with `make test`, which starts a local PostgreSQL, or set it to a superuser URL such as postgres://postgres@127.0.0.1:54329/postgres", AdminURLEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("dbtest: connect to %s: %v", AdminURLEnv, err)
	}
	defer conn.Close(ctx)

	tpl := "template0"
	if migrated {
		var err error
		if tpl, err = ensureTemplate(ctx, conn, admin); err != nil {
			t.Fatalf("dbtest: template database: %v", err)
		}
	}
	name := "crossdock_test_" + randomSuffix()
	if err := createFrom(ctx, conn, name, tpl); err != nil {
		t.Fatalf("dbtest: create %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "drop database if exists "+pgx.Identifier{name}.Sanitize()+" with (force)"); err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
		}
	})
	return withDatabase(t, admin, name)
}

// NewPool is NewDatabase plus a pool on it, closed when t ends.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(NewDatabase(t))
	if err != nil {
		t.Fatalf("dbtest: pool: %v", err)
	}
	pgconf.Apply(cfg) // the server's session settings
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("dbtest: pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func withDatabase(t testing.TB, admin, name string) string {
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		t.Fatalf("dbtest: parse %s: %v", AdminURLEnv, err)
	}
	return databaseURL(cfg.User, cfg.Password, cfg.Host, cfg.Port, name)
}

// databaseURL is the URL of database name on the admin URL's server, as
// the admin URL's user (postgres when none) and with its password.
func databaseURL(user, password, host string, port uint16, name string) string {
	if user == "" {
		user = "postgres"
	}
	u := url.URL{Scheme: "postgres", User: url.User(user), Host: net.JoinHostPort(host, strconv.Itoa(int(port))), Path: "/" + name, RawQuery: "sslmode=disable"}
	if password != "" {
		u.User = url.UserPassword(user, password)
	}
	return u.String()
}

// ensureTemplate builds crossdock_tpl_<fingerprint> once per migration set.
// go test runs packages in parallel processes, so building is serialised with
// an advisory lock on the admin database.
func ensureTemplate(ctx context.Context, conn *pgx.Conn, admin string) (string, error) {
	name := "crossdock_tpl_" + migrations.Fingerprint()
	h := fnv.New64a()
	h.Write([]byte(name))
	key := int64(h.Sum64() >> 1)
	if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", key); err != nil {
		return "", err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "select pg_advisory_unlock($1)", key) //nolint:errcheck

	var exists bool
	if err := conn.QueryRow(ctx, "select exists (select 1 from pg_database where datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := conn.Exec(ctx, "drop database if exists "+pgx.Identifier{building}.Sanitize()+" with (force)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "create database "+pgx.Identifier{building}.Sanitize()); err != nil {
		return "", err
	}
	cfg, err := pgxpool.ParseConfig(admin)
	if err != nil {
		return "", err
	}
	cfg.ConnConfig.Database = building
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return "", err
	}
	err = migrations.Migrate(ctx, pool, func(string, ...any) {})
	pool.Close()
	if err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	if _, err := conn.Exec(ctx, "alter database "+pgx.Identifier{building}.Sanitize()+" rename to "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return name, nil
}

// createFrom copies the template. PostgreSQL refuses while another session is
// connected to the template (a parallel copy can hold it briefly), so retry.
func createFrom(ctx context.Context, conn *pgx.Conn, name, tpl string) error {
	var err error
	for range 50 {
		_, err = conn.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize()+" template "+pgx.Identifier{tpl}.Sanitize())
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != pgerrcode.ObjectInUse {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
