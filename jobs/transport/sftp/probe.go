package sftp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"time"

	"github.com/crossdock/crossdock/jobs/transport"
)

// Probe checks the configuration as a delivery would use it, on a
// connection of its own: it connects, checks the host key against the
// pinned one, logs in, looks at the remote directory, and writes and
// removes a small probe file (through the same temporary name and rename
// as a delivery) to show the user may write there. Each step that
// succeeds is listed; the first that fails ends the test.
func (t *Transport) Probe(ctx context.Context, a transport.Attempt) (p transport.Probe) {
	started := time.Now()
	defer func() {
		p.Latency = time.Since(started)
		p.Summary = scrub(a.Config, p.Summary)
	}()
	s, err := readSettings(a.Config)
	if err != nil {
		p.Summary = err.Error()
		return p
	}
	au, err := authMethods(s.user, a.Config.Secret)
	if err != nil {
		p.Summary = err.Error()
		return p
	}
	ctx, cancel := context.WithTimeout(ctx, a.Config.Timeout)
	defer cancel()
	c, err := dial(ctx, s, au)
	if err != nil {
		var mm *HostKeyMismatchError
		var de *dialError
		switch {
		case errors.As(err, &mm):
			p.Steps = append(p.Steps, fmt.Sprintf("connected to %s", s.addr()))
			p.Summary = fmt.Sprintf("The server presented host key %s (%s), not the pinned %s. If this is the right server, pin its fingerprint; otherwise the connection may be intercepted", mm.Got, mm.Type, mm.Want)
		case errors.Is(err, context.DeadlineExceeded):
			p.Summary = fmt.Sprintf("No SSH connection to %s within %s. Check the host, the port and that a firewall lets Crossdock through", s.addr(), a.Config.Timeout)
		case errors.As(err, &de) && de.authFailed:
			p.Steps = append(p.Steps, fmt.Sprintf("connected to %s", s.addr()), "host key matches "+s.hostKey)
			p.Summary = fmt.Sprintf("The server refused user %s with the configured %s (%s). Check the user and the %s", s.user, credentialWord(de.key), de.err, credentialWord(de.key))
		case errors.As(err, &de) && de.sessionFailed:
			p.Summary = fmt.Sprintf("Logged in to %s as %s, but the server offers no SFTP session: %s", s.addr(), s.user, de.err)
		default:
			p.Summary = fmt.Sprintf("Could not connect to %s: %s. Check the host, the port and that a firewall lets Crossdock through", s.addr(), netReason(err))
		}
		return p
	}
	defer c.close()
	p.Steps = append(p.Steps,
		fmt.Sprintf("connected to %s in %s", s.addr(), time.Since(started).Round(100*time.Microsecond)),
		fmt.Sprintf("host key %s (%s) matches the pinned fingerprint", c.hostKey, c.hostKeyType),
		fmt.Sprintf("logged in as %s with the configured %s", s.user, credentialWord(au.key)))
	step := func(op func() error) error { return within(ctx, c, op) }
	var fi os.FileInfo
	err = step(func() (err error) { fi, err = c.sftp.Stat(s.dir); return err })
	switch {
	case errors.Is(err, os.ErrNotExist):
		p.Summary = fmt.Sprintf("The remote directory %s does not exist for user %s; create it or correct the directory", s.dir, s.user)
		return p
	case errors.Is(err, os.ErrPermission):
		p.Summary = fmt.Sprintf("User %s may not look at %s; grant access or choose another directory", s.user, s.dir)
		return p
	case err != nil:
		p.Summary = fmt.Sprintf("Could not look at %s: %s", s.dir, netReason(err))
		return p
	case !fi.IsDir():
		p.Summary = fmt.Sprintf("%s is a file, not a directory; correct the directory", s.dir)
		return p
	}
	p.Steps = append(p.Steps, fmt.Sprintf("directory %s exists", s.dir))
	name := fmt.Sprintf("crossdock-connection-test-%d.txt", time.Now().UnixNano())
	if err := step(func() error {
		return upload(c.sftp, s.dir, name, []byte("Crossdock connection test; safe to delete.\n"))
	}); err != nil {
		var se *stepError
		errors.As(err, &se)
		if errors.Is(err, os.ErrPermission) && se != nil {
			p.Summary = fmt.Sprintf("User %s may not %s %s; deliveries need to create, write and rename files in %s", s.user, se.step, se.file, s.dir)
		} else {
			p.Summary = fmt.Sprintf("Could not write a test file in %s: %s", s.dir, netReason(err))
		}
		return p
	}
	p.Steps = append(p.Steps, fmt.Sprintf("wrote and renamed %s", path.Join(s.dir, name)))
	if err := step(func() error { return c.sftp.Remove(path.Join(s.dir, name)) }); err != nil {
		p.Summary = fmt.Sprintf("Wrote a test file, but could not remove %s: %s. Deliveries will work; remove the file by hand", path.Join(s.dir, name), netReason(err))
		return p
	}
	p.Steps = append(p.Steps, "removed the test file")
	p.OK = true
	p.Summary = fmt.Sprintf("%s accepts user %s and files in %s. No delivery was sent", s.addr(), s.user, s.dir)
	return p
}
