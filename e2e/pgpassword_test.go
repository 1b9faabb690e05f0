package e2e

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestLocalClusterAsksForAPassword: the project-local cluster made by
// scripts/pg.sh lets nobody in without the password it generated into
// pg-password (0600), on TCP and on its socket; and a cluster from before,
// which trusted every local connection, asks for it after its next start.
func TestLocalClusterAsksForAPassword(t *testing.T) {
	t.Parallel()
	pg := newPGCluster(t)
	withPassword := pg.url(t)
	u, err := url.Parse(withPassword)
	require.NoError(t, err)
	noPassword := *u
	noPassword.User = url.User("postgres")
	socket := "postgres://postgres@/crossdock?host=" + url.QueryEscape(filepath.Join(pg.dir, "postgres-run")) + "&port=" + u.Port()

	connects := func(t *testing.T, dsn string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		return conn.Ping(ctx)
	}
	refused := func(t *testing.T) {
		t.Helper()
		for name, dsn := range map[string]string{"TCP": noPassword.String(), "socket": socket} {
			err := connects(t, dsn)
			require.Error(t, err, "%s without a password", name)
			require.Regexp(t, regexp.MustCompile(`password|SASL|auth`), err.Error(), name)
		}
		require.NoError(t, connects(t, withPassword), "with the password")
	}

	t.Run("a new cluster", func(t *testing.T) {
		refused(t)
		password, ok := u.User.Password()
		require.True(t, ok, "pg.sh url carries the password: %s", u.Redacted())
		require.Regexp(t, `^[0-9a-f]{64}$`, password)
		st, err := os.Stat(filepath.Join(pg.dir, "pg-password"))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	})

	t.Run("a cluster that trusted local connections", func(t *testing.T) {
		// What an older pg.sh made: every pg_hba.conf line trusts.
		hba := filepath.Join(pg.dir, "postgres", "pg_hba.conf")
		raw, err := os.ReadFile(hba)
		require.NoError(t, err)
		trusting := regexp.MustCompile(`(?m)scram-sha-256[ \t]*$`).ReplaceAll(raw, []byte("trust"))
		require.NoError(t, os.WriteFile(hba, trusting, 0o600))
		reload(t, pg)
		require.Eventually(t, func() bool { return connects(t, noPassword.String()) == nil }, 10*time.Second, 50*time.Millisecond,
			"the stand-in for an old cluster trusts")
		// And its superuser has no password.
		conn, err := pgx.Connect(context.Background(), noPassword.String())
		require.NoError(t, err)
		_, err = conn.Exec(context.Background(), "alter role postgres password null")
		require.NoError(t, err)
		require.NoError(t, conn.Close(context.Background()))

		// Its next start moves it over.
		pg.start(t)
		refused(t)
	})
}

// reload makes the cluster's server read its configuration again
// (SIGHUP to the postmaster, whose pid heads postmaster.pid).
func reload(t *testing.T, pg *pgCluster) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(pg.dir, "postgres", "postmaster.pid"))
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.SplitN(string(raw), "\n", 2)[0])
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(pid, syscall.SIGHUP))
}
