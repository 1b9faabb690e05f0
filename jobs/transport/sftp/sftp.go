// Package sftp is the sftp target kind: each delivery is one file, its
// body (the route's output, already encoded in the target's format) as
// the file's content, written to the configured directory of an SFTP
// server whose host key is pinned.
//
// A file is written under a temporary name (".NAME.part") and then renamed
// over its final name (posix-rename@openssh.com when the server offers it,
// else remove and rename), so the server never shows a half-written file
// under its final name. File names are deterministic per delivery
// ({{seq}} is the delivery's id, {{date}} the time its message was
// received), so an attempt made again after a crash between the upload
// and the pipeline's commit replaces the same file instead of adding a
// second one.
//
// Connections are kept per configuration (host, port, user, credential
// and pinned key) and shared by concurrent deliveries: an SFTP session
// multiplexes requests. One idle for IdleTimeout is closed.
//
// Outcomes: a server presenting another host key fails the delivery at
// once, naming both fingerprints; a refused login, a missing directory or
// permission denied fail it too (the configuration or the server must
// change); a connection that cannot be made, breaks or times out is
// retried and counts against the target's circuit breaker.
package sftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	psftp "github.com/pkg/sftp"

	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings/release"
)

// Kind is the sftp kind's name in definitions.
const Kind transport.Kind = "sftp"

// IdleTimeout is how long an unused connection is kept open.
const IdleTimeout = time.Minute

// Transport writes deliveries as files over SFTP. Safe for concurrent use.
type Transport struct {
	pool *pool
}

// New returns the sftp transport with an empty connection pool.
func New() *Transport { return &Transport{pool: newPool(IdleTimeout)} }

// Close closes every pooled connection.
func (t *Transport) Close() { t.pool.closeAll() }

// Kind is "sftp".
func (*Transport) Kind() transport.Kind { return Kind }

// Traits: an sftp target needs its server configured in each environment,
// and its first attempts go out in groups. Grouped is what puts an
// attempt behind the target's rate limit and circuit breaker (both only
// guard grouped kinds), which a file server needs as much as an HTTP one;
// a group's concurrent first attempts share the target's one pooled SSH
// connection, whose SFTP session carries them side by side.
func (*Transport) Traits() transport.Traits {
	return transport.Traits{Label: "SFTP file upload", NeedsConfiguration: true, Grouped: true}
}

// Redact returns where d is written: the server, the user, the directory
// and the file name. The credential is never among them.
func (*Transport) Redact(cfg release.TargetConfig, d transport.Delivery) map[string]string {
	st := cfg.Settings
	port := st[SettingPort]
	if port == "" {
		port = strconv.Itoa(DefaultPort)
	}
	out := map[string]string{"Host": net.JoinHostPort(st[SettingHost], port), "User": st[SettingUser], "Directory": st[SettingDirectory],
		"Host key": st[SettingHostKey]}
	if name, err := FileName(cfg, d); err == nil {
		out["File"] = name
	}
	return out
}

// Send writes one delivery's file. It never returns an error: every
// failure to write it is an attempt.
func (t *Transport) Send(ctx context.Context, a transport.Attempt) (res transport.Outcome, _ error) {
	res.Started = time.Now()
	defer func() {
		res.Latency = time.Since(res.Started)
		res.Error = scrub(a.Config, res.Error)
	}()
	s, err := readSettings(a.Config)
	if err != nil {
		return failed(res, "configuration", err.Error()), nil
	}
	name, err := render(s.name, a.Delivery, receivedAt(a.Delivery))
	if err != nil {
		return failed(res, "configuration", err.Error()), nil
	}
	auth, err := authMethods(s.user, a.Config.Secret)
	if err != nil {
		return failed(res, "configuration", err.Error()), nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.Config.Timeout)
	defer cancel()
	final := path.Join(s.dir, name)
	res.Detail = map[string]any{"file": final, "bytes": len(a.Body)}
	// A pooled connection may have been closed by the server since it was
	// last used; that is found on first use, and such an attempt is made
	// again once on a fresh connection rather than counted.
	for try := 0; ; try++ {
		c, reused, err := t.pool.get(ctx, poolKey(s, a.Config.Secret), func(ctx context.Context) (*conn, error) { return dial(ctx, s, auth) })
		if err != nil {
			return dialOutcome(res, s, a.Config.Timeout, err), nil
		}
		err = within(ctx, c, func() error { return upload(c.sftp, s.dir, name, a.Body) })
		broken := err != nil && !isStatus(err)
		t.pool.put(c, broken)
		if err == nil {
			res.Verdict = transport.Delivered
			return res, nil
		}
		if broken && reused && try == 0 && ctx.Err() == nil {
			continue
		}
		return uploadOutcome(ctx, res, s, final, a.Config.Timeout, err), nil
	}
}

// upload writes body to dir/.name.part and renames it over dir/name.
func upload(c *psftp.Client, dir, name string, body []byte) error {
	tmp, final := path.Join(dir, "."+name+".part"), path.Join(dir, name)
	f, err := c.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return &stepError{step: "create", file: tmp, err: err}
	}
	if _, err := f.Write(body); err != nil {
		_ = f.Close()
		return &stepError{step: "write", file: tmp, err: err}
	}
	if err := f.Close(); err != nil {
		return &stepError{step: "write", file: tmp, err: err}
	}
	if _, ok := c.HasExtension("posix-rename@openssh.com"); ok {
		if err := c.PosixRename(tmp, final); err != nil {
			return &stepError{step: "rename", file: final, err: err}
		}
		return nil
	}
	// SFTP version 3's rename refuses an existing target: a file left by
	// an earlier attempt of this delivery is this delivery's, and goes.
	if err := c.Remove(final); err != nil && !errors.Is(err, os.ErrNotExist) {
		return &stepError{step: "rename", file: final, err: err}
	}
	if err := c.Rename(tmp, final); err != nil {
		return &stepError{step: "rename", file: final, err: err}
	}
	return nil
}

// stepError is a failed step of an upload.
type stepError struct {
	step, file string
	err        error
}

func (e *stepError) Error() string { return e.step + " " + e.file + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// isStatus: the server answered the request (with a refusal); the
// session is fine.
func isStatus(err error) bool {
	var se *psftp.StatusError
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) || errors.As(err, &se)
}

// within runs op on c, giving up when ctx ends; the connection is then
// closed, which ends op.
func within(ctx context.Context, c *conn, op func() error) error {
	done := make(chan error, 1)
	go func() { done <- op() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		c.close()
		<-done
		return ctx.Err()
	}
}

func failed(res transport.Outcome, class, msg string) transport.Outcome {
	res.Verdict, res.Class, res.Error = transport.Failed, class, msg
	return res
}

func retry(res transport.Outcome, class, msg string) transport.Outcome {
	res.Verdict, res.Class, res.Error, res.TargetDown = transport.Retry, class, msg, true
	return res
}

// dialOutcome classifies a connection that could not be made.
func dialOutcome(res transport.Outcome, s settings, timeout time.Duration, err error) transport.Outcome {
	var mm *HostKeyMismatchError
	var de *dialError
	switch {
	case errors.As(err, &mm):
		return failed(res, "host key mismatch", fmt.Sprintf("the server at %s presented host key %s (%s), but the target pins %s; nothing was sent. If the server's key was replaced on purpose, put the new fingerprint in the target's configuration; otherwise the connection may be intercepted",
			s.addr(), mm.Got, mm.Type, mm.Want))
	case errors.Is(err, context.DeadlineExceeded):
		return retry(res, "timeout", fmt.Sprintf("could not connect to %s within %s", s.addr(), timeout))
	case errors.As(err, &de) && de.authFailed:
		return failed(res, "authentication", fmt.Sprintf("the server at %s refused user %s with the configured %s: %s. Check the user and the password or key",
			s.addr(), s.user, credentialWord(de.key), de.err))
	case errors.As(err, &de) && de.sessionFailed:
		return failed(res, "sftp unavailable", fmt.Sprintf("logged in to %s as %s, but the server offers no SFTP session: %s", s.addr(), s.user, de.err))
	}
	return retry(res, "network", fmt.Sprintf("could not connect to %s: %s", s.addr(), netReason(err)))
}

// uploadOutcome classifies a failed upload.
func uploadOutcome(ctx context.Context, res transport.Outcome, s settings, final string, timeout time.Duration, err error) transport.Outcome {
	var se *stepError
	if !errors.As(err, &se) {
		se = &stepError{step: "write", file: final, err: err}
	}
	switch {
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return retry(res, "timeout", fmt.Sprintf("writing %s on %s took longer than %s", final, s.addr(), timeout))
	case errors.Is(err, os.ErrPermission):
		return failed(res, "permission denied", fmt.Sprintf("the server at %s denied user %s permission to %s %s; let the user write, create and rename files in %s, or choose another directory",
			s.addr(), s.user, se.step, se.file, s.dir))
	case errors.Is(err, os.ErrNotExist) && se != nil && se.step == "create":
		return failed(res, "no such directory", fmt.Sprintf("the remote directory %s does not exist on %s (seen by user %s); create it or correct the target's directory", s.dir, s.addr(), s.user))
	case isStatus(err):
		// The server answered but could not do it (disk full, a
		// temporary failure): try again later.
		return retry(res, "sftp failure", fmt.Sprintf("the server at %s could not %s %s: %s", s.addr(), se.step, se.file, statusText(err)))
	}
	return retry(res, "network", fmt.Sprintf("the connection to %s broke while writing %s: %s", s.addr(), final, netReason(err)))
}

func statusText(err error) string {
	var se *stepError
	if errors.As(err, &se) {
		return se.err.Error()
	}
	return err.Error()
}

func credentialWord(key bool) string {
	if key {
		return "private key"
	}
	return "password"
}

func netReason(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	if errors.Is(err, io.EOF) {
		return "the server closed the connection"
	}
	return err.Error()
}

// scrub removes the secret from text an error produced, in case a server
// or a library echoes it.
func scrub(cfg release.TargetConfig, s string) string {
	if cfg.Secret != "" && s != "" {
		s = strings.ReplaceAll(s, cfg.Secret, "••••••")
	}
	return s
}

func joinHostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
