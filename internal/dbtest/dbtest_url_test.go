package dbtest

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestDatabaseURLKeepsTheAdminPassword: the project-local cluster asks for
// a password (scripts/pg.sh), so a test database's URL must carry the
// admin URL's.
func TestDatabaseURLKeepsTheAdminPassword(t *testing.T) {
	for _, c := range []struct{ name, admin, want string }{
		{"password", "postgres://postgres:0a1b2c@127.0.0.1:54329/postgres?sslmode=disable", "postgres://postgres:0a1b2c@127.0.0.1:54329/crossdock_t1?sslmode=disable"},
		{"no password", "postgres://postgres@127.0.0.1:54329/postgres", "postgres://postgres@127.0.0.1:54329/crossdock_t1?sslmode=disable"},
		{"characters to escape", "postgres://ci:p%40ss%2Fw@db.example:5432/postgres", "postgres://ci:p%40ss%2Fw@db.example:5432/crossdock_t1?sslmode=disable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := pgx.ParseConfig(c.admin)
			require.NoError(t, err)
			got := databaseURL(cfg.User, cfg.Password, cfg.Host, cfg.Port, "crossdock_t1")
			require.Equal(t, c.want, got)
			back, err := pgx.ParseConfig(got)
			require.NoError(t, err)
			require.Equal(t, cfg.Password, back.Password)
		})
	}
}
