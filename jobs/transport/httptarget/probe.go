package httptarget

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/crossdock/crossdock/jobs/transport"
)

var unsetVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Probe checks that the configured endpoint answers a connection: it
// resolves the host, connects, and for https completes the TLS handshake
// and reads the certificate. It sends no request, so it delivers nothing
// and needs no credential; whether the target accepts the credential and
// the body shows on the first delivery.
func (t *Transport) Probe(ctx context.Context, a transport.Attempt) (p transport.Probe) {
	started := time.Now()
	defer func() { p.Latency = time.Since(started) }()
	raw := URL(a)
	if m := unsetVar.FindStringSubmatch(raw); m != nil {
		p.Summary = fmt.Sprintf("The URL uses ${%s}, which this environment does not set; set the variable on the Environments page", m[1])
		return p
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		p.Summary = fmt.Sprintf("“%s” is not an http:// or https:// URL with a host", u.Redacted())
		return p
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	ctx, cancel := context.WithTimeout(ctx, a.Config.Timeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		p.Summary = fmt.Sprintf("%s cannot be resolved: %s. Check the host name", host, dnsReason(err))
		return p
	}
	if net.ParseIP(host) == nil {
		p.Steps = append(p.Steps, fmt.Sprintf("resolved %s to %s", host, strings.Join(addrs, ", ")))
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		p.Summary = fmt.Sprintf("Nothing accepted a connection on %s port %s: %s. Check the host, the port and that a firewall lets Crossdock through", host, port, netReason(err))
		return p
	}
	defer conn.Close()
	p.Steps = append(p.Steps, fmt.Sprintf("connected to %s in %s", conn.RemoteAddr(), time.Since(started).Round(100*time.Microsecond)))
	if u.Scheme == "https" {
		tc := tls.Client(conn, t.tlsConfig(host))
		if err := tc.HandshakeContext(ctx); err != nil {
			p.Summary = fmt.Sprintf("Connected to %s, but the TLS handshake failed: %s", host, err)
			return p
		}
		st := tc.ConnectionState()
		step := "TLS " + strings.TrimPrefix(tls.VersionName(st.Version), "TLS ")
		if len(st.PeerCertificates) > 0 {
			c := st.PeerCertificates[0]
			step += fmt.Sprintf(", certificate for %s issued by %s, valid until %s", host, c.Issuer.CommonName, c.NotAfter.UTC().Format("2006-01-02"))
		}
		p.Steps = append(p.Steps, step)
	}
	p.OK = true
	p.Summary = fmt.Sprintf("%s accepts connections on port %s. Nothing was sent; the first delivery shows whether it takes the credential and the body", host, port)
	return p
}

// tlsConfig is the TLS configuration deliveries use (the client's, when
// it has one: its trusted roots, its client certificate) for host.
func (t *Transport) tlsConfig(host string) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ht, ok := t.client.Transport.(*http.Transport); ok && ht.TLSClientConfig != nil {
		cfg = ht.TLSClientConfig.Clone()
	}
	cfg.ServerName = host
	return cfg
}

func dnsReason(err error) string {
	var de *net.DNSError
	switch {
	case !errors.As(err, &de):
		return err.Error()
	case de.IsNotFound:
		return "no such host"
	case de.IsTimeout:
		return "the lookup timed out"
	}
	return de.Err
}

func netReason(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}
