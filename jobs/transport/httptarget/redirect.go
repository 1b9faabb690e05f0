package httptarget

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// maxRedirects is how many same-origin redirects one attempt follows.
const maxRedirects = 10

// Redirects of a target. A target's credentials (bearer, basic or a custom
// header) belong to the origin of its configured URL. net/http strips
// Authorization when a redirect leaves the host, but copies every other
// header, so a header credential would reach whatever host the target
// points at; and it compares host names only, so even Authorization
// follows a redirect to another port. The target client therefore follows
// a redirect only within the origin (scheme, host and port) of the
// configured URL, where net/http keeps every header; a redirect anywhere
// else ends the attempt with the 3xx itself, which the pipeline turns
// into a delivery exception (not retried: the configuration must change).
// Within the origin, 307 and 308 repeat the request with its body, and a
// 303 turns it into a GET of the result (the target took the delivery);
// a 301 or 302 of anything but a GET is not followed either, since
// net/http would repeat it as a GET without the body, and the delivery
// would count as delivered with its body sent nowhere. Every redirect is
// written into the attempt's lineage.

// redirectLogKey carries an attempt's *redirectLog in its request context.
type redirectLogKey struct{}

// redirectLog lists the URLs an attempt was redirected to and followed.
type redirectLog struct{ followed []string }

func withRedirectLog(ctx context.Context) (context.Context, *redirectLog) {
	l := &redirectLog{}
	return context.WithValue(ctx, redirectLogKey{}, l), l
}

// targetClient returns c (nil: http.DefaultClient's settings) with the
// target redirect policy. c itself is not changed.
func targetClient(c *http.Client) *http.Client {
	out := &http.Client{}
	if c != nil {
		*out = *c
	}
	out.CheckRedirect = followSameOrigin
	return out
}

// followSameOrigin is the target client's CheckRedirect: follow within the
// origin of the first request, stop (and answer with the 3xx) anywhere
// else, or where following would drop the body.
func followSameOrigin(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if !SameOrigin(via[0].URL, req.URL) || dropsBody(req, via) {
		return http.ErrUseLastResponse
	}
	if l, ok := req.Context().Value(redirectLogKey{}).(*redirectLog); ok {
		l.followed = append(l.followed, req.URL.Redacted())
	}
	return nil
}

// dropsBody says whether following req would resend a request with a body
// as a GET without it: a 301 or 302 answer to anything but GET or HEAD.
func dropsBody(req *http.Request, via []*http.Request) bool {
	prev := via[len(via)-1].Method
	if prev == http.MethodGet || prev == http.MethodHead || req.Response == nil {
		return false
	}
	code := req.Response.StatusCode
	return code == http.StatusMovedPermanently || code == http.StatusFound
}

// SameOrigin says whether a and b have the same scheme, host and port
// (RFC 6454), the port defaulting by scheme.
func SameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && originPort(a) == originPort(b)
}

func originPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// isRedirect says whether net/http would have followed code.
func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}
