// Package sftptest is a small SFTP server on loopback, for the demo
// (`make run` delivers the 3PL template's files to it) and for tests of the
// sftp target kind against a real SSH handshake and SFTP session. It
// serves one directory as its root to one user with a password (and, when
// given, a public key), under a host key kept in a file so that its
// fingerprint stays the same across restarts and can be pinned.
package sftptest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Options configure a Server.
type Options struct {
	// Addr is where it listens; default 127.0.0.1:0 (a free port).
	Addr string
	// Root is the directory served as "/"; it is created if missing.
	// Nothing outside it can be reached (os.Root).
	Root string
	// HostKeyFile keeps the server's ed25519 host key (PEM): read when it
	// exists, else generated and written. Empty: a key generated for this
	// server only.
	HostKeyFile string
	// User and Password are the one account; a wrong password is refused.
	User, Password string
	// AuthorizedKey, when set, also lets User in with that key.
	AuthorizedKey ssh.PublicKey
	// ReadOnly lists directories (as the client sees them, "/in") where
	// every write is refused with permission denied, as a server whose
	// account may read but not write there answers.
	ReadOnly []string
	// Logger notes connections that fail; nil logs nothing.
	Logger *slog.Logger
}

// Server is a running SFTP server.
type Server struct {
	// Addr is the address it listens on, host:port.
	Addr string
	// Fingerprint is its host key's SHA256 fingerprint as ssh-keygen -lf
	// prints it ("SHA256:…"), for a target's pinned host key.
	Fingerprint string
	// HostKey is its host key's public half.
	HostKey ssh.PublicKey

	opts  Options
	root  *os.Root
	ln    net.Listener
	cfg   *ssh.ServerConfig
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool
}

// Start listens and serves until Close.
func Start(o Options) (*Server, error) {
	if o.Root == "" {
		return nil, errors.New("sftptest: Options.Root is required")
	}
	if o.User == "" || o.Password == "" {
		return nil, errors.New("sftptest: Options.User and Options.Password are required")
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	signer, err := hostKey(o.HostKeyFile)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Root, 0o755); err != nil {
		return nil, fmt.Errorf("sftptest: root: %w", err)
	}
	root, err := os.OpenRoot(o.Root)
	if err != nil {
		return nil, fmt.Errorf("sftptest: root: %w", err)
	}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if c.User() == o.User && string(pw) == o.Password {
				return nil, nil
			}
			return nil, errors.New("wrong user or password")
		},
		MaxAuthTries: 3,
	}
	if o.AuthorizedKey != nil {
		want := o.AuthorizedKey.Marshal()
		cfg.PublicKeyCallback = func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if c.User() == o.User && string(key.Marshal()) == string(want) {
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		}
	}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		_ = root.Close()
		return nil, fmt.Errorf("sftptest: listen: %w", err)
	}
	s := &Server{Addr: ln.Addr().String(), Fingerprint: ssh.FingerprintSHA256(signer.PublicKey()), HostKey: signer.PublicKey(),
		opts: o, root: root, ln: ln, cfg: cfg, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Close stops listening, drops every connection and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.done = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	_ = s.root.Close()
	return err
}

// DropConnections closes every open connection, as a server restart
// would, and keeps listening.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.Close()
	}
}

// Connections counts the connections open now.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.done {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				_ = c.Close()
			}()
			if err := s.serve(c); err != nil && s.opts.Logger != nil {
				s.opts.Logger.Debug("sftp connection ended", "remote", c.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

// handshakeTimeout bounds a client's key exchange and authentication.
const handshakeTimeout = 10 * time.Second

func (s *Server) serve(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	sc, chans, reqs, err := ssh.NewServerConn(c, s.cfg)
	if err != nil {
		return err
	}
	_ = c.SetDeadline(time.Time{})
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	defer wg.Wait()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ch.Close()
			for req := range chReqs {
				ok := req.Type == "subsystem" && len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp"
				_ = req.Reply(ok, nil)
				if !ok {
					continue
				}
				h := &handler{root: s.root, readOnly: s.opts.ReadOnly}
				srv := sftp.NewRequestServer(ch, sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h})
				if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) && s.opts.Logger != nil {
					s.opts.Logger.Debug("sftp session ended", "err", err)
				}
				_ = srv.Close()
				return
			}
		}()
	}
	return nil
}

// hostKey reads the ed25519 host key kept in file, or generates one and
// keeps it there (file empty: generates one and keeps it nowhere).
func hostKey(file string) (ssh.Signer, error) {
	if file != "" {
		if b, err := os.ReadFile(file); err == nil {
			s, err := ssh.ParsePrivateKey(b)
			if err != nil {
				return nil, fmt.Errorf("sftptest: host key %s: %w", file, err)
			}
			return s, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("sftptest: host key: %w", err)
		}
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if file != "" {
		block, err := ssh.MarshalPrivateKey(priv, "crossdock demo sftp host key")
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return nil, fmt.Errorf("sftptest: host key: %w", err)
		}
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			return nil, fmt.Errorf("sftptest: host key: %w", err)
		}
	}
	return ssh.NewSignerFromKey(priv)
}

// handler serves requests inside root. Paths arrive cleaned and absolute
// ("/in/a.csv"); rel makes them relative to the root, which os.Root keeps
// from escaping it.
type handler struct {
	root     *os.Root
	readOnly []string
}

func rel(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// writable refuses a write under a read-only directory.
func (h *handler) writable(p string) error {
	p = path.Clean("/" + p)
	for _, d := range h.readOnly {
		d = path.Clean("/" + d)
		if p == d || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
			return sftp.ErrSSHFxPermissionDenied
		}
	}
	return nil
}

// Fileread opens a file to read.
func (h *handler) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	return h.root.Open(rel(r.Filepath))
}

// Filewrite opens a file to write, creating or truncating it as the
// client asks.
func (h *handler) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	if err := h.writable(r.Filepath); err != nil {
		return nil, err
	}
	pf := r.Pflags()
	flag := os.O_WRONLY
	if pf.Read {
		flag = os.O_RDWR
	}
	if pf.Creat {
		flag |= os.O_CREATE
	}
	if pf.Trunc {
		flag |= os.O_TRUNC
	}
	if pf.Excl {
		flag |= os.O_EXCL
	}
	return h.root.OpenFile(rel(r.Filepath), flag, 0o644)
}

// Filecmd renames, removes and makes directories. Rename refuses to
// replace an existing file, as SFTP version 3 specifies and OpenSSH does;
// PosixRename replaces it.
func (h *handler) Filecmd(r *sftp.Request) error {
	switch r.Method {
	case "Setstat":
		return nil
	case "Rename":
		if err := h.writable(r.Target); err != nil {
			return err
		}
		if _, err := h.root.Lstat(rel(r.Target)); err == nil {
			return sftp.ErrSSHFxFailure
		}
		return h.root.Rename(rel(r.Filepath), rel(r.Target))
	case "Remove":
		if err := h.writable(r.Filepath); err != nil {
			return err
		}
		return h.root.Remove(rel(r.Filepath))
	case "Rmdir":
		if err := h.writable(r.Filepath); err != nil {
			return err
		}
		return h.root.Remove(rel(r.Filepath))
	case "Mkdir":
		if err := h.writable(r.Filepath); err != nil {
			return err
		}
		return h.root.Mkdir(rel(r.Filepath), 0o755)
	}
	return sftp.ErrSSHFxOpUnsupported
}

// PosixRename renames, replacing the target if it exists.
func (h *handler) PosixRename(r *sftp.Request) error {
	if err := h.writable(r.Target); err != nil {
		return err
	}
	return h.root.Rename(rel(r.Filepath), rel(r.Target))
}

// Filelist lists a directory or stats a file.
func (h *handler) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	switch r.Method {
	case "List":
		d, err := h.root.Open(rel(r.Filepath))
		if err != nil {
			return nil, err
		}
		defer d.Close()
		infos, err := d.Readdir(-1)
		if err != nil {
			return nil, err
		}
		return lister(infos), nil
	case "Stat":
		fi, err := h.root.Stat(rel(r.Filepath))
		if err != nil {
			return nil, err
		}
		return lister{fi}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

type lister []os.FileInfo

// ListAt copies the entries from offset.
func (l lister) ListAt(out []os.FileInfo, offset int64) (int, error) {
	if offset >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[offset:])
	if n < len(out) {
		return n, io.EOF
	}
	return n, nil
}

// CloseOnDone closes the server when ctx is done (the demo's serve
// context).
func (s *Server) CloseOnDone(ctx context.Context) {
	go func() {
		<-ctx.Done()
		_ = s.Close()
	}()
}
