package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/web"
)

// TestAPIRefusesBodiesThatAreNotJSON: every management API route that
// takes a body takes JSON; a multipart form or plain text is 415 with a
// problem document saying what to send, whoever calls. Triggers have
// their own media types (TestTrigger*).
func TestAPIRefusesBodiesThatAreNotJSON(t *testing.T) {
	t.Parallel()
	f := setupSecurity(t)
	f.user(t, "media@shop.example", account.RoleAdmin)
	br := f.browser(t)
	br.signIn("media@shop.example")
	br.get("/flows") // the session's CSRF token

	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	require.NoError(t, mw.WriteField("version", "1"))
	require.NoError(t, mw.Close())
	bodies := []struct{ name, contentType, body string }{
		{"multipart form", mw.FormDataContentType(), form.String()},
		{"plain text", "text/plain", `{"version": 1}`},
		{"url-encoded form", "application/x-www-form-urlencoded", "version=1"},
		{"no Content-Type", "", `{"version": 1}`},
		{"JSON in Latin-1", "application/json; charset=iso-8859-1", `{"version": 1}`},
	}
	checked := 0
	for _, rt := range registeredRoutes(t, f) {
		if !strings.HasPrefix(rt.pattern, "/api/") || strings.HasPrefix(rt.pattern, "/api/v1/envs/") ||
			(rt.method != http.MethodPost && rt.method != http.MethodPut && rt.method != http.MethodPatch) {
			continue
		}
		for _, b := range bodies {
			t.Run(rt.String()+" "+b.name, func(t *testing.T) {
				req := httptest.NewRequest(rt.method, f.path(rt.pattern), strings.NewReader(b.body))
				if b.contentType != "" {
					req.Header.Set("Content-Type", b.contentType)
				}
				req.Header.Set("X-CSRF-Token", br.csrf)
				res := br.do(req)
				require.Equal(t, http.StatusUnsupportedMediaType, res.StatusCode, bodyGist(res.body))
				require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
				var p web.Problem
				require.NoError(t, json.Unmarshal([]byte(res.body), &p))
				require.Equal(t, "unsupported", string(p.Code))
				require.Contains(t, p.Detail, "application/json")
			})
			checked++
		}
	}
	require.Greater(t, checked, 50, "the API's routes with bodies were found")

	t.Run("JSON with a charset and an empty body still pass", func(t *testing.T) {
		res, _ := br.api(http.MethodPost, "/api/v1/flows/shop-orders/preview", map[string]any{"payload": map[string]any{"id": 1}},
			"Content-Type", "application/json; charset=utf-8")
		require.Equal(t, http.StatusOK, res.StatusCode, bodyGist(res.body))
		req := httptest.NewRequest(http.MethodPost, "/api/v1/exceptions/"+itoa(f.exceptionID)+"/assign", nil)
		req.Header.Set("X-CSRF-Token", br.csrf)
		res = br.do(req)
		require.Equal(t, http.StatusOK, res.StatusCode, bodyGist(res.body))
	})
}

// TestOversizedHeadersAnswer431: request headers over the server's read
// buffer are refused by fasthttp before any handler runs (app.Test cannot
// show it, so a real listener does), with 431 and a problem document.
func TestOversizedHeadersAnswer431(t *testing.T) {
	t.Parallel()
	tb := setupTrigger(t)
	addr := listen(t, tb.testBundle)
	for _, path := range []string{"/api/v1/flows", "/api/v1/envs/dev/flows/shop-orders/messages", "/flows"} {
		t.Run(path, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tb.devKey)
			req.Header.Set("X-Pad", strings.Repeat("p", 10<<10))
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, res.StatusCode, string(body))
			require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), string(body))
			var p web.Problem
			require.NoError(t, json.Unmarshal(body, &p), string(body))
			require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, p.Status)
			require.Contains(t, p.Detail, "headers")
			require.Contains(t, p.Detail, "4096 bytes")
		})
	}
}
