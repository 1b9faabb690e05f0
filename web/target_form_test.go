package web_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/transport/sftp/sftptest"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// TestTargetFormAsksTheKind: the target form shows the settings of the
// kind the flows give the target, says next to each field what is wrong,
// stores through release.ConfigureTarget, and tests a connection without
// storing anything.
func TestTargetFormAsksTheKind(t *testing.T) {
	t.Parallel()
	tlsTarget := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the connection test sent a request: %s %s", r.Method, r.URL)
	}))
	t.Cleanup(tlsTarget.Close)
	// Deliveries, and so connection tests, trust the test server's
	// certificate, as an installation trusts its targets' CAs.
	b, _ := setupSealed(t, pipeline.Transports(nil, tlsTarget.Client()))
	ctx := context.Background()
	b.user(t, "adm@shop.example", account.RoleAdmin)
	adm := b.browser(t)
	adm.signIn("adm@shop.example")
	def, err := engine.ParseDefinition([]byte(`{"formatVersion": 1, "name": "dev-orders", "source": {"system": "shop", "event": "order.created"},
		"targets": [{"name": "recorder", "kind": "capture"}, {"name": "erp", "kind": "http"}],
		"routes": [{"name": "r", "target": "recorder", "mapping": [{"target": "id", "expr": "source.id"}]}]}`))
	require.NoError(t, err)
	_, err = mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: "dev orders", Slug: "dev-orders", Definition: def}, mappings.Editor{Email: "adm@shop.example"})
	require.NoError(t, err)
	dev, err := release.EnvironmentByName(ctx, b.db, "dev")
	require.NoError(t, err)
	stored := func(t *testing.T) []release.MaskedTargetConfig {
		list, err := release.TargetConfigList(ctx, b.db, dev.ID)
		require.NoError(t, err)
		return list
	}
	audits := func(t *testing.T) int {
		entries, err := account.AuditList(ctx, b.db, account.AuditFilter{Action: "target.configure"})
		require.NoError(t, err)
		return len(entries)
	}

	t.Run("an http target asks for its endpoint and credential", func(t *testing.T) {
		res := adm.get("/environments/dev/targets/erp")
		require.Equal(t, http.StatusOK, res.StatusCode)
		for _, want := range []string{`id="t-url"`, `id="t-method"`, `id="t-headers"`, `id="t-auth"`, `id="t-secret"`, "HTTP request settings", "Test connection", "Delivery policy"} {
			require.Contains(t, res.body, want)
		}
	})

	t.Run("the page lists the flows that name the target", func(t *testing.T) {
		page := adm.get("/environments/dev/targets/erp").body
		require.Contains(t, page, "every flow that names “erp” delivers to this one configuration in dev")
		require.Contains(t, page, `<a href="/flows/dev-orders">dev-orders</a> <span class="hint">its draft, not published yet</span>`)
		page = adm.get("/environments/dev/targets/recorder?kind=http").body
		require.Contains(t, page, `<span class="badge badge-warn">as capture</span>`, "a flow giving the target another kind says so")
		require.Contains(t, adm.get("/environments/dev/targets/nobody").body, "No flow names this target yet.")
	})

	t.Run("a capture target has no settings of its own", func(t *testing.T) {
		res := adm.get("/environments/dev/targets/recorder")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, res.body, "no settings of their own")
		require.NotContains(t, res.body, `id="t-url"`)
		require.NotContains(t, res.body, "Test connection", "capture cannot test a connection")
		require.Contains(t, res.body, `href="/environments/dev/targets/recorder?kind=http"`, "another kind is one click away")
		require.Contains(t, adm.get("/environments/dev/targets/recorder?kind=http").body, `id="t-url"`)
	})

	t.Run("an unknown kind is refused with the kinds there are", func(t *testing.T) {
		res := adm.get("/environments/dev/targets/erp?kind=ftp")
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		require.Contains(t, res.body, "cannot deliver to targets of kind “ftp”; choose one of http, capture, sftp")
	})

	t.Run("every problem is named next to its field and nothing is stored", func(t *testing.T) {
		adm.get("/environments/dev/targets/erp")
		res := adm.post("/environments/dev/targets/erp", url.Values{"kind": {"http"}, "url": {"ftp://erp.example"}, "auth": {"bearer"},
			"headers": {"X-Tenant: 7\nno colon here"}, "max_attempts": {"many"}})
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
		for field, words := range map[string]string{
			"url":         "“ftp://erp.example” is not an http:// or https:// URL",
			"secret":      "bearer authentication sends a secret; enter it",
			"headers":     "each line must read Name: value, not “no colon here”",
			"maxAttempts": "“many” is not a whole number",
		} {
			require.Contains(t, res.body, `id="problem-`+field+`"`, field)
			require.Contains(t, res.body, `href="#problem-`+field+`"`, "the summary links to %s", field)
			require.Contains(t, res.body, words, field)
		}
		require.Contains(t, res.body, `value="ftp://erp.example"`, "what was entered is kept")
		require.Empty(t, stored(t))
		require.Zero(t, audits(t))
	})

	t.Run("a valid form is stored, audited, and keeps its secret", func(t *testing.T) {
		adm.get("/environments/dev/targets/erp")
		res := adm.post("/environments/dev/targets/erp", url.Values{"kind": {"http"}, "url": {"https://erp.example/orders"}, "auth": {"bearer"},
			"secret": {"s3cret-token"}, "headers": {"X-Tenant: 7"}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		adm.get("/environments/dev/targets/erp")
		res = adm.post("/environments/dev/targets/erp", url.Values{"kind": {"http"}, "url": {"https://erp.example/v2/orders"}, "auth": {"bearer"},
			"headers": {"X-Tenant: 7"}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, "an empty secret keeps the stored one: %s", res.body)
		list := stored(t)
		require.Len(t, list, 1)
		require.Equal(t, "https://erp.example/v2/orders", list[0].URLTemplate)
		require.True(t, list[0].HasSecret)
		require.Equal(t, map[string]string{"X-Tenant": "7"}, list[0].Headers)
		require.Equal(t, 2, audits(t))
		page := adm.get("/environments/dev/targets/erp").body
		require.NotContains(t, page, "s3cret-token", "a secret is never shown")
		require.Contains(t, page, "stored; leave empty to keep it")
	})

	t.Run("test connection", func(t *testing.T) {
		before := audits(t)
		probe := func(t *testing.T, target string) response {
			t.Helper()
			adm.get("/environments/dev/targets/erp")
			res := adm.post("/environments/dev/targets/erp/test", url.Values{"kind": {"http"}, "url": {target}})
			require.Equal(t, http.StatusOK, res.StatusCode, res.body)
			return res
		}
		t.Run("reaches a TLS endpoint and reads its certificate", func(t *testing.T) {
			res := probe(t, tlsTarget.URL+"/orders")
			require.Contains(t, res.body, "Connection works.")
			require.Contains(t, res.body, "TLS 1.3, certificate for 127.0.0.1")
			require.Contains(t, res.body, "Nothing was sent")
		})
		t.Run("says when nothing listens", func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			addr := l.Addr().String()
			require.NoError(t, l.Close())
			res := probe(t, "http://"+addr+"/orders")
			require.Contains(t, res.body, "Connection failed.")
			require.Contains(t, res.body, "Nothing accepted a connection on 127.0.0.1 port")
		})
		t.Run("names a variable the environment does not set", func(t *testing.T) {
			res := probe(t, "https://${ERP_HOST}/orders")
			require.Contains(t, res.body, "The URL uses ${ERP_HOST}, which this environment does not set")
		})
		t.Run("stores nothing", func(t *testing.T) {
			require.Equal(t, "https://erp.example/v2/orders", stored(t)[0].URLTemplate)
			require.Equal(t, before, audits(t))
		})
	})

	t.Run("an sftp target asks for its server, pins its key and tests the connection step by step", func(t *testing.T) {
		srv, err := sftptest.Start(sftptest.Options{Root: t.TempDir(), User: "crossdock", Password: "demo-password"})
		require.NoError(t, err)
		t.Cleanup(func() { _ = srv.Close() })
		host, port, _ := net.SplitHostPort(srv.Addr)
		page := adm.get("/environments/dev/targets/3pl?kind=sftp").body
		for _, want := range []string{`id="t-host"`, `id="t-port"`, `id="t-user"`, `id="t-secret"`, `id="t-host_key"`, `id="t-directory"`, `id="t-file_name"`,
			"Password or private key", "recognised by its -----BEGIN", "Test connection"} {
			require.Contains(t, page, want)
		}
		form := url.Values{"kind": {"sftp"}, "host": {host}, "port": {port}, "user": {"crossdock"}, "host_key": {srv.Fingerprint},
			"directory": {"/"}, "file_name": {"{{seq}}.csv"}, "secret": {"demo-password"}}
		res := adm.post("/environments/dev/targets/3pl", form)
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		form.Del("secret") // the stored password is used
		adm.get("/environments/dev/targets/3pl")
		res = adm.post("/environments/dev/targets/3pl/test", form)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, res.body, "Connection works.")
		require.Contains(t, res.body, "host key "+srv.Fingerprint+" (ssh-ed25519) matches the pinned fingerprint")
		require.Contains(t, res.body, "removed the test file")
		require.NotContains(t, res.body, "demo-password")

		form.Set("host_key", "SHA256:"+strings.Repeat("Q", 43))
		adm.get("/environments/dev/targets/3pl")
		res = adm.post("/environments/dev/targets/3pl/test", form)
		require.Contains(t, res.body, "Connection failed.")
		require.Contains(t, res.body, "presented host key "+srv.Fingerprint+" (ssh-ed25519), not the pinned SHA256:QQQ")
	})
}
