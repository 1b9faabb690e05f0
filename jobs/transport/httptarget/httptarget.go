// Package httptarget is the http target kind: a delivery is a JSON request
// to the URL its environment configures, with the configured headers and
// credential, an Idempotency-Key (the delivery id) and the correlation id.
// 2xx delivers; 408, 429, 5xx and network errors are retried (honouring
// Retry-After); other answers fail the delivery at once.
package httptarget

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings/release"
)

// Kind is the http kind's name in definitions.
const Kind transport.Kind = engine.TargetHTTP

// ResponseExcerptLimit is how much of a target's answer an attempt keeps.
const ResponseExcerptLimit = 2048

// Transport sends deliveries as HTTP requests.
type Transport struct {
	client *http.Client
}

// New returns the http transport sending with client (nil: a pooled
// client without its own timeout, since each attempt is bounded by its
// target's), whose redirect policy it replaces with the targets'
// (redirect.go).
func New(client *http.Client) *Transport {
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
			DialContext: (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		}}
	}
	return &Transport{client: targetClient(client)}
}

// Kind is "http".
func (*Transport) Kind() transport.Kind { return Kind }

// Traits: an http target needs its endpoint configured in each
// environment, and its first attempts go out in groups.
func (*Transport) Traits() transport.Traits {
	return transport.Traits{Label: "HTTP request", NeedsConfiguration: true, Grouped: true}
}

// Redact returns the headers d is sent with under cfg, the credential
// masked. Nothing needs the secret to build them.
func (*Transport) Redact(cfg release.TargetConfig, d transport.Delivery) map[string]string {
	return MaskedHeader(cfg, Header(cfg, d))
}

// URL fills the configuration's URL template for an attempt: {messageId},
// {deliveryId}, {correlationId}, {route}, {target} and ${VAR} for the
// environment's variables, each URL-path-escaped.
func URL(a transport.Attempt) string {
	tpl := a.Config.URLTemplate
	if !strings.ContainsAny(tpl, "{$") {
		return tpl
	}
	r := strings.NewReplacer(
		"{messageId}", url.PathEscape(a.MessageID.String()),
		"{deliveryId}", url.PathEscape(a.ID.String()),
		"{correlationId}", url.PathEscape(a.CorrelationID),
		"{route}", url.PathEscape(a.Route),
		"{target}", url.PathEscape(a.Target),
	)
	out := r.Replace(tpl)
	return os.Expand(out, func(name string) string {
		if v, ok := a.Vars[name]; ok {
			return url.PathEscape(v)
		}
		return "${" + name + "}"
	})
}

// Header is what a delivery is sent with: the configured headers, then
// Content-Type (the body's, application/json unless the target's format
// says otherwise), Idempotency-Key (the delivery's id: the
// same on every attempt of the delivery, different per target),
// X-Correlation-ID, X-Crossdock-Message-Id (the message the delivery
// comes from), User-Agent: Crossdock, and the credential. README
// ("Headers sent to targets") lists them.
func Header(cfg release.TargetConfig, d transport.Delivery) http.Header {
	h := http.Header{}
	for k, v := range cfg.Headers {
		h.Set(k, v)
	}
	if d.ContentType != "" {
		h.Set("Content-Type", d.ContentType)
	} else {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Idempotency-Key", d.ID.String())
	h.Set("X-Correlation-ID", d.CorrelationID)
	h.Set("X-Crossdock-Message-Id", d.MessageID.String())
	h.Set("User-Agent", "Crossdock")
	switch cfg.Auth {
	case release.AuthBearer:
		h.Set("Authorization", "Bearer "+cfg.Secret)
	case release.AuthBasic:
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Secret)))
	case release.AuthHeader:
		h.Set(cfg.AuthHeaderName, cfg.Secret)
	}
	return h
}

// MaskedHeader returns h with the credential replaced, for captures,
// pages and logs.
func MaskedHeader(cfg release.TargetConfig, h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k := range h {
		out[k] = h.Get(k)
	}
	switch cfg.Auth {
	case release.AuthBearer, release.AuthBasic:
		out["Authorization"] = "••••••"
	case release.AuthHeader:
		out[http.CanonicalHeaderKey(cfg.AuthHeaderName)] = "••••••"
	}
	return out
}

// scrub removes the secret from text a target sent back or an error
// produced, in case either echoes it.
func scrub(cfg release.TargetConfig, s string) string {
	if cfg.Secret != "" {
		s = strings.ReplaceAll(s, cfg.Secret, "••••••")
		if cfg.Auth == release.AuthBasic {
			s = strings.ReplaceAll(s, base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Secret)), "••••••")
		}
	}
	return s
}

// scrubAll is scrub of each of ss.
func scrubAll(cfg release.TargetConfig, ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = scrub(cfg, s)
	}
	return out
}

// Send makes one request and classifies the answer. It never returns an
// error: every failure to reach the target is an attempt.
func (t *Transport) Send(ctx context.Context, a transport.Attempt) (res transport.Outcome, _ error) {
	cfg := a.Config
	res.Started = time.Now()
	reqCtx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	reqCtx, redirects := withRedirectLog(reqCtx)
	var body io.Reader
	if cfg.Method != http.MethodGet {
		body = bytes.NewReader(a.Body)
	}
	req, err := http.NewRequestWithContext(reqCtx, cfg.Method, URL(a), body)
	if err != nil {
		res.Verdict, res.Error, res.Class = transport.Failed, scrub(cfg, "cannot build the request: "+err.Error()), "bad request"
		res.TargetDown = true
		return res, nil
	}
	req.Header = Header(cfg, a.Delivery)
	resp, err := t.client.Do(req)
	res.Latency = time.Since(res.Started)
	var redirectedTo string
	defer func() { addRedirects(&res, scrubAll(cfg, redirects.followed), redirectedTo) }()
	if err != nil {
		res.Verdict, res.TargetDown = transport.Retry, true
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(reqCtx.Err(), context.DeadlineExceeded) {
			res.Class = "timeout"
			res.Error = fmt.Sprintf("no answer within %s", cfg.Timeout)
		} else {
			res.Class = "network"
			res.Error = scrub(cfg, err.Error())
		}
		return res, nil
	}
	defer resp.Body.Close()
	// The answer is read up to AnswerLimit: its start is the attempt's
	// excerpt, and a delivered one is the steps' response.
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, transport.AnswerLimit+1))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // so the connection can be reused
	res.Latency = time.Since(res.Started)
	res.StatusCode = resp.StatusCode
	res.Excerpt = scrub(cfg, validUTF8(answer[:min(len(answer), ResponseExcerptLimit)]))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		res.Verdict = transport.Delivered
		res.Answer = answerOf(cfg, resp, answer)
	case isRedirect(code) && resp.Header.Get("Location") != "":
		// Not followed (redirect.go): it leads to another origin, or
		// would have resent the delivery without its body.
		res.Verdict = transport.Failed
		to, elsewhere := resp.Header.Get("Location"), true
		if u, err := resp.Request.URL.Parse(to); err == nil {
			to, elsewhere = u.Redacted(), !SameOrigin(req.URL, u)
		}
		redirectedTo = scrub(cfg, to)
		if elsewhere {
			res.Class = "redirect to another origin"
			res.Error = fmt.Sprintf("the target answered %d %s, redirecting to %s; Crossdock follows redirects only within the target's origin (scheme, host and port), so nothing was sent there and the credentials stayed here. Point the target's URL at the new address if it is right",
				code, http.StatusText(code), redirectedTo)
		} else {
			res.Class = fmt.Sprintf("redirect %d", code)
			res.Error = fmt.Sprintf("the target answered %d %s, redirecting to %s; following it would resend the %s as a GET without its body, so it was not followed. Point the target's URL at the new address, or have the target answer 307 or 308",
				code, http.StatusText(code), redirectedTo, cfg.Method)
		}
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		res.Verdict = transport.Retry
		// A target that paces us (429) is up; the others count against
		// its circuit breaker.
		res.TargetDown = code != http.StatusTooManyRequests
		res.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		res.Class = fmt.Sprintf("http %d", code)
		res.Error = fmt.Sprintf("the target answered %d %s", code, http.StatusText(code))
	default:
		res.Verdict = transport.Failed
		res.Class = fmt.Sprintf("http %d", code)
		res.Error = fmt.Sprintf("the target refused the delivery with %d %s", code, http.StatusText(code))
		// A 1xx answer is not a refusal the target will repeat.
		res.TargetDown = code < 300
	}
	return res, nil
}

// secretHeaders are answer headers never kept: credentials and session
// cookies a target may send back.
var secretHeaders = map[string]bool{"authorization": true, "proxy-authorization": true, "set-cookie": true, "cookie": true,
	"www-authenticate": true, "proxy-authenticate": true}

// answerOf is a delivered answer for the steps that map it: status,
// headers without credentials, and the body up to AnswerLimit, with the
// target's secret masked wherever it shows.
func answerOf(cfg release.TargetConfig, resp *http.Response, body []byte) *transport.Answer {
	a := &transport.Answer{Status: resp.StatusCode, Headers: make(map[string]string, len(resp.Header))}
	if len(body) > transport.AnswerLimit {
		a.Body, a.Truncated = body[:transport.AnswerLimit], true
	} else {
		a.Body = body
	}
	if cfg.Secret != "" {
		a.Body = []byte(scrub(cfg, string(a.Body)))
	}
	for k, vs := range resp.Header {
		name := strings.ToLower(k)
		if secretHeaders[name] || cfg.AuthHeaderName != "" && strings.EqualFold(k, cfg.AuthHeaderName) {
			continue
		}
		a.Headers[name] = scrub(cfg, strings.Join(vs, ", "))
	}
	return a
}

// addRedirects puts the attempt's redirects, if any, in its lineage
// detail: "redirects", those followed; "redirectedTo", the one that was
// not.
func addRedirects(res *transport.Outcome, followed []string, redirectedTo string) {
	if len(followed) == 0 && redirectedTo == "" {
		return
	}
	res.Detail = map[string]any{}
	if len(followed) > 0 {
		res.Detail["redirects"] = followed
	}
	if redirectedTo != "" {
		res.Detail["redirectedTo"] = redirectedTo
	}
}

func validUTF8(b []byte) string {
	s := string(b)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "�")
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; 0 when
// absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
