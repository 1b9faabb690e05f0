package sftp

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	psftp "github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// HostKeyMismatchError: the server presented a host key other than the
// pinned one.
type HostKeyMismatchError struct {
	Want, Got, Type string
}

func (e *HostKeyMismatchError) Error() string {
	return fmt.Sprintf("host key %s (%s) is not the pinned %s", e.Got, e.Type, e.Want)
}

// dialError is a connection that could not be made, with how far it got.
type dialError struct {
	err error
	// authFailed: the server was recognised and refused the login.
	authFailed bool
	// sessionFailed: logged in, but no SFTP session could be opened.
	sessionFailed bool
	// key: the credential was a private key.
	key bool
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// conn is a pooled connection.
type conn struct {
	ssh  *ssh.Client
	sftp *psftp.Client
	// hostKey is the fingerprint and type of the key the server
	// presented (for the connection test).
	hostKey, hostKeyType string
	once                 sync.Once
}

func (c *conn) close() {
	c.once.Do(func() {
		_ = c.sftp.Close()
		_ = c.ssh.Close()
	})
}

// auth is how a configuration logs in.
type auth struct {
	methods []ssh.AuthMethod
	key     bool
}

// pemRE finds a PEM block whose line breaks a password field dropped: a
// browser removes them from what is pasted into one.
var pemRE = regexp.MustCompile(`^-----BEGIN ([A-Z0-9 ]+)-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END ([A-Z0-9 ]+)-----\s*$`)

// authMethods reads the configuration's secret: a PEM private key (by its
// header), else a password, offered both as "password" and as the
// keyboard-interactive prompt many servers ask passwords with.
func authMethods(user, secret string) (auth, error) {
	trimmed := strings.TrimSpace(secret)
	if !strings.HasPrefix(trimmed, "-----BEGIN ") {
		pw := secret
		return auth{methods: []ssh.AuthMethod{ssh.Password(pw), ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			out := make([]string, len(qs))
			for i := range out {
				out[i] = pw
			}
			return out, nil
		})}}, nil
	}
	signer, err := ssh.ParsePrivateKey([]byte(reflowPEM(trimmed)))
	var pm *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &pm):
		return auth{}, fmt.Errorf("the private key for %s is protected by a passphrase; Crossdock needs one without (ssh-keygen -p -N '' -f KEY removes it from a copy)", user)
	case err != nil:
		return auth{}, fmt.Errorf("the private key for %s cannot be read: %s; paste the whole key, -----BEGIN to -----END", user, strings.TrimPrefix(err.Error(), "ssh: "))
	}
	return auth{methods: []ssh.AuthMethod{ssh.PublicKeys(signer)}, key: true}, nil
}

// reflowPEM puts back the line breaks of a PEM block pasted into a
// one-line field; a block that has them is returned as it is.
func reflowPEM(s string) string {
	if strings.Contains(s, "\n") {
		return s
	}
	m := pemRE.FindStringSubmatch(s)
	if m == nil || m[1] != m[3] {
		return s
	}
	body := strings.Join(strings.Fields(m[2]), "")
	var b strings.Builder
	b.WriteString("-----BEGIN " + m[1] + "-----\n")
	for len(body) > 64 {
		b.WriteString(body[:64] + "\n")
		body = body[64:]
	}
	b.WriteString(body + "\n-----END " + m[1] + "-----\n")
	return b.String()
}

// dial connects, checks the host key against the pinned fingerprint, logs
// in and opens an SFTP session, all within ctx.
func dial(ctx context.Context, s settings, a auth) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", s.addr())
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	// The handshake has no context of its own: the deadline bounds it,
	// and cancellation closes the socket.
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	defer stop()
	c := &conn{}
	var keyOK bool
	cfg := &ssh.ClientConfig{
		User: s.user, Auth: a.methods,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			c.hostKey, c.hostKeyType = ssh.FingerprintSHA256(key), key.Type()
			if c.hostKey != s.hostKey {
				return &HostKeyMismatchError{Want: s.hostKey, Got: c.hostKey, Type: key.Type()}
			}
			keyOK = true
			return nil
		},
	}
	cc, chans, reqs, err := ssh.NewClientConn(nc, s.addr(), cfg)
	if err != nil {
		_ = nc.Close()
		var mm *HostKeyMismatchError
		var ne net.Error
		switch {
		case errors.As(err, &mm):
			return nil, mm
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.As(err, &ne) && ne.Timeout():
			// The socket's deadline is the context's, and may pass
			// a moment before the context says so.
			return nil, context.DeadlineExceeded
		case errors.As(err, &ne):
			return nil, err
		}
		// Once the key is accepted, what fails without a network error
		// is the login (the server says "unable to authenticate").
		return nil, &dialError{err: errors.New(strings.TrimPrefix(strings.TrimPrefix(err.Error(), "ssh: handshake failed: "), "ssh: ")), authFailed: keyOK, key: a.key}
	}
	c.ssh = ssh.NewClient(cc, chans, reqs)
	c.sftp, err = psftp.NewClient(c.ssh)
	if err != nil {
		_ = c.ssh.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &dialError{err: err, sessionFailed: true}
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

// poolKey identifies a configuration's connections: everything that
// decides where they go and who they log in as. A changed password or
// pinned key makes a new key, so the old connection is never used again
// and closes when idle.
func poolKey(s settings, secret string) [32]byte {
	return sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s\x00%s\x00%s", s.host, s.port, s.user, s.hostKey, secret))
}

// pool keeps one connection per configuration, shared by the attempts in
// flight on it, and closes one idle for longer than idle.
type pool struct {
	idle time.Duration

	mu      sync.Mutex
	entries map[[32]byte]*entry
	janitor bool
}

type entry struct {
	ready chan struct{} // closed when dialled (c or err set)
	c     *conn
	err   error
	users int
	last  time.Time
}

func newPool(idle time.Duration) *pool { return &pool{idle: idle, entries: map[[32]byte]*entry{}} }

// get returns the connection of key, dialling one if there is none; many
// attempts asking at once wait for the one dial. reused: the connection
// was there before this attempt asked.
func (p *pool) get(ctx context.Context, key [32]byte, dialFn func(context.Context) (*conn, error)) (c *conn, reused bool, err error) {
	p.mu.Lock()
	e, ok := p.entries[key]
	if ok {
		e.users++
		p.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			p.release(e)
			return nil, false, ctx.Err()
		}
		if e.err != nil {
			p.release(e)
			return nil, false, e.err
		}
		return e.c, true, nil
	}
	e = &entry{ready: make(chan struct{}), users: 1}
	p.entries[key] = e
	p.mu.Unlock()
	c, err = dialFn(ctx)
	p.mu.Lock()
	e.c, e.err = c, err
	close(e.ready)
	if err != nil {
		if p.entries[key] == e {
			delete(p.entries, key)
		}
		p.mu.Unlock()
		return nil, false, err
	}
	if !p.janitor {
		p.janitor = true
		go p.sweep()
	}
	p.mu.Unlock()
	return c, false, nil
}

// release gives up a use of e without a connection.
func (p *pool) release(e *entry) {
	p.mu.Lock()
	e.users--
	e.last = time.Now()
	p.mu.Unlock()
}

// put returns a connection after use; a broken one is closed and
// forgotten, so the next attempt dials afresh.
func (p *pool) put(c *conn, broken bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, e := range p.entries {
		if e.c == c {
			e.users--
			e.last = time.Now()
			if broken {
				delete(p.entries, k)
				go e.c.close()
			}
			return
		}
	}
	if broken {
		go c.close()
	}
}

// sweep closes idle connections until the pool is empty.
func (p *pool) sweep() {
	t := time.NewTicker(p.idle / 4)
	defer t.Stop()
	for range t.C {
		p.mu.Lock()
		for k, e := range p.entries {
			if e.c != nil && e.users <= 0 && time.Since(e.last) > p.idle {
				delete(p.entries, k)
				go e.c.close()
			}
		}
		if len(p.entries) == 0 {
			p.janitor = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}

// closeAll closes every connection.
func (p *pool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, e := range p.entries {
		delete(p.entries, k)
		if e.c != nil {
			e.c.close()
		}
	}
}
