package sftp_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/jobs/transport/sftp"
	"github.com/crossdock/crossdock/jobs/transport/sftp/sftptest"
	"github.com/crossdock/crossdock/mappings/release"
)

const password = "s3cret-demo"

type bundle struct {
	srv  *sftptest.Server
	root string
	tr   *sftp.Transport
	key  ssh.Signer // authorized for the user
	pem  string     // key's private half, PEM
}

func setup(t testing.TB) *bundle {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	signer, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "in"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "locked"), 0o755))
	srv, err := sftptest.Start(sftptest.Options{Root: root, User: "crossdock", Password: password, AuthorizedKey: sshPub, ReadOnly: []string{"/locked"}})
	require.NoError(t, err)
	tr := sftp.New()
	t.Cleanup(func() {
		tr.Close()
		_ = srv.Close()
	})
	return &bundle{srv: srv, root: root, tr: tr, key: signer, pem: string(pem.EncodeToMemory(block))}
}

// config is a valid configuration for b's server.
func (b *bundle) config() release.TargetConfig {
	host, port, _ := net.SplitHostPort(b.srv.Addr)
	cfg := release.DefaultTargetConfig(1, "3pl")
	cfg.Timeout = 5 * time.Second
	cfg.Settings = map[string]string{"host": host, "port": port, "user": "crossdock", "host_key": b.srv.Fingerprint,
		"directory": "/in", "file_name": `orders-{{date "20060102-150405"}}-{{seq}}.csv`}
	cfg.Secret = password
	return cfg
}

func delivery(body string) transport.Delivery {
	msg := uuid.Must(uuid.NewV7())
	return transport.Delivery{ID: uuid.New(), MessageID: msg, Route: "3pl-orders", Target: "3pl", CorrelationID: "c-1", Body: []byte(body)}
}

func (b *bundle) files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(b.root, dir))
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestSend(t *testing.T) {
	t.Parallel()

	t.Run("writes exactly the body under the rendered name", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		d := delivery("id;sku;qty\r\n1001;ABC;2\r\n\x00\xff binary too")
		res, err := b.tr.Send(context.Background(), transport.Attempt{Delivery: d, Config: b.config()})
		require.NoError(t, err)
		require.Equal(t, transport.Delivered, res.Verdict, res.Error)
		name, err := sftp.FileName(b.config(), d)
		require.NoError(t, err)
		sec, nsec := d.MessageID.Time().UnixTime()
		require.Equal(t, fmt.Sprintf("orders-%s-%s.csv", time.Unix(sec, nsec).UTC().Format("20060102-150405"), d.ID), name,
			"the date is when the message was received, from its id")
		require.Equal(t, []string{name}, b.files(t, "in"), "no temporary file is left")
		got, err := os.ReadFile(filepath.Join(b.root, "in", name))
		require.NoError(t, err)
		require.Equal(t, d.Body, got)
		require.Equal(t, "/in/"+name, res.Detail["file"])
	})

	t.Run("an attempt made again after a crash replaces the same file", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		d := delivery("first")
		name, err := sftp.FileName(b.config(), d)
		require.NoError(t, err)
		// A crash mid-upload leaves the temporary file; one after the
		// upload, before the pipeline commits, leaves the final file.
		require.NoError(t, os.WriteFile(filepath.Join(b.root, "in", "."+name+".part"), []byte("fir"), 0o644))
		for range 2 {
			res, err := b.tr.Send(context.Background(), transport.Attempt{Delivery: d, Config: b.config()})
			require.NoError(t, err)
			require.Equal(t, transport.Delivered, res.Verdict, res.Error)
		}
		require.Equal(t, []string{name}, b.files(t, "in"))
		got, err := os.ReadFile(filepath.Join(b.root, "in", name))
		require.NoError(t, err)
		require.Equal(t, "first", string(got))
	})

	t.Run("a private key logs in", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cfg := b.config()
		cfg.Secret = b.pem
		res, err := b.tr.Send(context.Background(), transport.Attempt{Delivery: delivery("x"), Config: cfg})
		require.NoError(t, err)
		require.Equal(t, transport.Delivered, res.Verdict, res.Error)
	})

	t.Run("a private key pasted without its line breaks logs in", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cfg := b.config()
		cfg.Secret = strings.ReplaceAll(b.pem, "\n", "")
		res, err := b.tr.Send(context.Background(), transport.Attempt{Delivery: delivery("x"), Config: cfg})
		require.NoError(t, err)
		require.Equal(t, transport.Delivered, res.Verdict, res.Error)
	})

	t.Run("another host key is a permanent failure naming both fingerprints", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cfg := b.config()
		pinned := "SHA256:" + strings.Repeat("A", 43)
		cfg.Settings["host_key"] = pinned
		res, err := b.tr.Send(context.Background(), transport.Attempt{Delivery: delivery("x"), Config: cfg})
		require.NoError(t, err)
		require.Equal(t, transport.Failed, res.Verdict)
		require.False(t, res.TargetDown)
		require.Equal(t, "host key mismatch", res.Class)
		require.Contains(t, res.Error, "presented host key "+b.srv.Fingerprint+" (ssh-ed25519), but the target pins "+pinned)
		require.Empty(t, b.files(t, "in"))
	})

	t.Run("a wrong password is a permanent failure", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cfg := b.config()
		cfg.Secret = "wrong-password"
		res, err := b.tr.Send(context.Background(), transport.Attempt{Delivery: delivery("x"), Config: cfg})
		require.NoError(t, err)
		require.Equal(t, transport.Failed, res.Verdict)
		require.Equal(t, "authentication", res.Class)
		require.False(t, res.TargetDown)
		require.Contains(t, res.Error, "refused user crossdock with the configured password")
		require.NotContains(t, res.Error, "wrong-password")
	})

	t.Run("an unreadable private key is a permanent failure", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cfg := b.config()
		cfg.Secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nnotakey\n-----END OPENSSH PRIVATE KEY-----\n"
		res, err := b.tr.Send(context.Background(), transport.Attempt{Delivery: delivery("x"), Config: cfg})
		require.NoError(t, err)
		require.Equal(t, transport.Failed, res.Verdict)
		require.Contains(t, res.Error, "the private key for crossdock cannot be read")
	})

	t.Run("a port nothing listens on is retried and counts against the target", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		_, port, _ := net.SplitHostPort(l.Addr().String())
		require.NoError(t, l.Close())
		cfg := b.config()
		cfg.Settings["port"] = port
		res, err := b.tr.Send(context.Background(), transport.Attempt{Delivery: delivery("x"), Config: cfg})
		require.NoError(t, err)
		require.Equal(t, transport.Retry, res.Verdict)
		require.True(t, res.TargetDown)
		require.Equal(t, "network", res.Class)
		require.Contains(t, res.Error, "could not connect to 127.0.0.1:"+port)
	})

	t.Run("a server that does not answer in time is retried", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		go func() { // accepts and says nothing
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { _ = c.Close() })
			}
		}()
		cfg := b.config()
		_, port, _ := net.SplitHostPort(l.Addr().String())
		cfg.Settings["port"], cfg.Timeout = port, 300*time.Millisecond
		res, err := b.tr.Send(context.Background(), transport.Attempt{Delivery: delivery("x"), Config: cfg})
		require.NoError(t, err)
		require.Equal(t, transport.Retry, res.Verdict)
		require.True(t, res.TargetDown)
		require.Equal(t, "timeout", res.Class)
	})

	t.Run("a missing directory is a permanent failure", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cfg := b.config()
		cfg.Settings["directory"] = "/nowhere"
		res, err := b.tr.Send(context.Background(), transport.Attempt{Delivery: delivery("x"), Config: cfg})
		require.NoError(t, err)
		require.Equal(t, transport.Failed, res.Verdict)
		require.Equal(t, "no such directory", res.Class)
		require.Contains(t, res.Error, "the remote directory /nowhere does not exist")
	})

	t.Run("permission denied on the directory is a permanent failure", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cfg := b.config()
		cfg.Settings["directory"] = "/locked"
		res, err := b.tr.Send(context.Background(), transport.Attempt{Delivery: delivery("x"), Config: cfg})
		require.NoError(t, err)
		require.Equal(t, transport.Failed, res.Verdict)
		require.Equal(t, "permission denied", res.Class)
		require.Contains(t, res.Error, "denied user crossdock permission to create /locked/.orders-")
	})

	t.Run("concurrent deliveries share one connection", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var wg sync.WaitGroup
		verdicts := make([]transport.Verdict, 64)
		for i := range verdicts {
			wg.Go(func() {
				res, _ := b.tr.Send(context.Background(), transport.Attempt{Delivery: delivery(strconv.Itoa(i)), Config: b.config()})
				verdicts[i] = res.Verdict
			})
		}
		wg.Wait()
		for _, v := range verdicts {
			require.Equal(t, transport.Delivered, v)
		}
		require.Len(t, b.files(t, "in"), 64)
		require.Equal(t, 1, b.srv.Connections())
	})

	t.Run("a connection the server dropped is replaced without a failed attempt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res, _ := b.tr.Send(context.Background(), transport.Attempt{Delivery: delivery("1"), Config: b.config()})
		require.Equal(t, transport.Delivered, res.Verdict, res.Error)
		b.srv.DropConnections()
		require.Eventually(t, func() bool { return b.srv.Connections() == 0 }, 2*time.Second, 10*time.Millisecond)
		res, _ = b.tr.Send(context.Background(), transport.Attempt{Delivery: delivery("2"), Config: b.config()})
		require.Equal(t, transport.Delivered, res.Verdict, res.Error)
		require.Len(t, b.files(t, "in"), 2)
	})

	t.Run("redact shows where, never the secret", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		d := delivery("x")
		got := b.tr.Redact(b.config(), d)
		name, _ := sftp.FileName(b.config(), d)
		require.Equal(t, map[string]string{"Host": b.srv.Addr, "User": "crossdock", "Directory": "/in", "Host key": b.srv.Fingerprint, "File": name}, got)
	})
}

func TestProbe(t *testing.T) {
	t.Parallel()

	t.Run("reports each step and leaves nothing behind", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p := b.tr.Probe(context.Background(), transport.Attempt{Config: b.config()})
		require.True(t, p.OK, p.Summary)
		require.Len(t, p.Steps, 6, "%q", p.Steps)
		require.Contains(t, p.Steps[1], "host key "+b.srv.Fingerprint+" (ssh-ed25519) matches")
		require.Equal(t, "directory /in exists", p.Steps[3])
		require.Contains(t, p.Steps[4], "wrote and renamed /in/crossdock-connection-test-")
		require.Empty(t, b.files(t, "in"))
	})
	t.Run("names both fingerprints when the host key differs", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cfg := b.config()
		cfg.Settings["host_key"] = "SHA256:" + strings.Repeat("B", 43)
		p := b.tr.Probe(context.Background(), transport.Attempt{Config: cfg})
		require.False(t, p.OK)
		require.Contains(t, p.Summary, "presented host key "+b.srv.Fingerprint+" (ssh-ed25519), not the pinned SHA256:BBB")
	})
	t.Run("a wrong password", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cfg := b.config()
		cfg.Secret = "nope"
		p := b.tr.Probe(context.Background(), transport.Attempt{Config: cfg})
		require.False(t, p.OK)
		require.Contains(t, p.Summary, "refused user crossdock with the configured password")
	})
	t.Run("a missing directory", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cfg := b.config()
		cfg.Settings["directory"] = "/nowhere"
		p := b.tr.Probe(context.Background(), transport.Attempt{Config: cfg})
		require.False(t, p.OK)
		require.Contains(t, p.Summary, "The remote directory /nowhere does not exist")
	})
	t.Run("a directory the user may not write", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cfg := b.config()
		cfg.Settings["directory"] = "/locked"
		p := b.tr.Probe(context.Background(), transport.Attempt{Config: cfg})
		require.False(t, p.OK)
		require.Contains(t, p.Summary, "User crossdock may not create /locked/.crossdock-connection-test-")
	})
}

func TestSettings(t *testing.T) {
	t.Parallel()
	tr := sftp.New()
	good := func() map[string]string {
		return map[string]string{"host": "sftp.3pl.example", "port": "2222", "user": "crossdock", "secret": "pw",
			"host_key": "256 SHA256:" + strings.Repeat("x", 43) + " root@3pl (ED25519)", "directory": "/in", "file_name": "{{seq}}.csv"}
	}

	t.Run("a complete form", func(t *testing.T) {
		t.Parallel()
		cfg := release.DefaultTargetConfig(1, "3pl")
		require.Empty(t, tr.Apply(&cfg, good()))
		require.Equal(t, "pw", cfg.Secret)
		require.Equal(t, map[string]string{"host": "sftp.3pl.example", "port": "2222", "user": "crossdock",
			"host_key": "SHA256:" + strings.Repeat("x", 43), "directory": "/in", "file_name": "{{seq}}.csv"}, tr.Values(cfg),
			"the fingerprint is kept from a whole ssh-keygen line; the values never include the secret")
		require.NoError(t, cfg.Check())
	})

	t.Run("an empty secret keeps the stored one", func(t *testing.T) {
		t.Parallel()
		cfg := release.DefaultTargetConfig(1, "3pl")
		v := good()
		v["secret"] = ""
		problems := tr.Apply(&cfg, v)
		require.True(t, cfg.KeepSecret)
		require.Contains(t, problems, "secret", "Apply alone cannot see a stored secret; ConfigureTarget checks with it")
	})

	t.Run("each problem is named by its field", func(t *testing.T) {
		t.Parallel()
		for name, c := range map[string]struct {
			key, value, field, says string
		}{
			"no host":                {"host", "", "host", "enter the SFTP server's host name"},
			"a URL for a host":       {"host", "sftp://x", "host", "is not a host name"},
			"a bad port":             {"port", "70000", "port", "is not a port"},
			"no user":                {"user", "", "user", "enter the user"},
			"no secret":              {"secret", "", "secret", "password or private key"},
			"no fingerprint":         {"host_key", "", "host_key", "enter the server's host key fingerprint"},
			"an MD5 fingerprint":     {"host_key", "MD5:12:34", "host_key", "is not a SHA256 fingerprint"},
			"no directory":           {"directory", "", "directory", "enter the remote directory"},
			"no file name":           {"file_name", "", "file_name", "enter the file name template"},
			"a template error":       {"file_name", "{{seq", "file_name", "does not parse"},
			"an unknown function":    {"file_name", "{{size}}.csv", "file_name", "does not parse"},
			"one name for all":       {"file_name", `orders-{{date "20060102"}}.csv`, "file_name", "every delivery would get the file name “orders-20260102.csv”"},
			"a path in the name":     {"file_name", "out/{{seq}}.csv", "file_name", "a file name has no /"},
			"a name for every route": {"file_name", "{{route}}.csv", "file_name", "each replacing the one before"},
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				v := good()
				v[c.key] = c.value
				cfg := release.DefaultTargetConfig(1, "3pl")
				problems := tr.Apply(&cfg, v)
				require.Contains(t, problems[c.field], c.says)
				require.Len(t, problems, 1, "%v", problems)
			})
		}
	})

	t.Run("values are made safe in file names", func(t *testing.T) {
		t.Parallel()
		cfg := release.DefaultTargetConfig(1, "3pl")
		v := good()
		v["file_name"] = "{{correlationId}}-{{seq}}.csv"
		require.Empty(t, tr.Apply(&cfg, v))
		d := delivery("x")
		d.CorrelationID = "../../etc/passwd"
		name, err := sftp.FileName(cfg, d)
		require.NoError(t, err)
		require.Equal(t, "_._.._etc_passwd-"+d.ID.String()+".csv", name)
	})

	t.Run("the gates see a stored configuration's problems with labels", func(t *testing.T) {
		t.Parallel()
		reg := transport.NewRegistry(tr)
		cfg := release.DefaultTargetConfig(1, "3pl")
		v := good()
		tr.Apply(&cfg, v)
		m := cfg.Masked()
		m.HasSecret = false
		require.Equal(t, []release.ConfigProblem{{Field: "secret", Label: "Password or private key", Problem: "enter the user's password or private key"}},
			reg.CheckTargetConfig("sftp", m))
	})
}
