package sftp

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/jobs/transport/sftp/sftptest"
	"github.com/crossdock/crossdock/mappings/release"
)

// TestPoolClosesIdleConnections: a connection nobody used for the idle
// time is closed, and the next delivery dials a new one.
func TestPoolClosesIdleConnections(t *testing.T) {
	t.Parallel()
	srv, err := sftptest.Start(sftptest.Options{Root: t.TempDir(), User: "u", Password: "p"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	tr := &Transport{pool: newPool(100 * time.Millisecond)}
	t.Cleanup(tr.Close)
	host, port, _ := net.SplitHostPort(srv.Addr)
	cfg := release.DefaultTargetConfig(1, "t")
	cfg.Settings = map[string]string{SettingHost: host, SettingPort: port, SettingUser: "u", SettingHostKey: srv.Fingerprint,
		SettingDirectory: "/", SettingFileName: "{{seq}}"}
	cfg.Secret = "p"
	send := func() {
		res, err := tr.Send(context.Background(), transport.Attempt{Delivery: transport.Delivery{ID: uuid.New(), MessageID: uuid.New()}, Config: cfg})
		require.NoError(t, err)
		require.Equal(t, transport.Delivered, res.Verdict, res.Error)
	}
	send()
	require.Equal(t, 1, srv.Connections())
	require.Eventually(t, func() bool { return srv.Connections() == 0 }, 5*time.Second, 20*time.Millisecond, "the idle connection is closed")
	send()
	require.Equal(t, 1, srv.Connections())

	t.Run("a changed password is another connection", func(t *testing.T) {
		other := cfg
		other.Secret = "wrong"
		res, err := tr.Send(context.Background(), transport.Attempt{Delivery: transport.Delivery{ID: uuid.New(), MessageID: uuid.New()}, Config: other})
		require.NoError(t, err)
		require.Equal(t, "authentication", res.Class, "the pooled connection of the right password is not used for the wrong one")
	})
}
