package httptarget_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/jobs/transport/httptarget"
	"github.com/crossdock/crossdock/mappings/release"
)

func TestSettings(t *testing.T) {
	t.Parallel()
	h := httptarget.New(nil)
	apply := func(values map[string]string) (release.TargetConfig, map[string]string) {
		cfg := release.DefaultTargetConfig(1, "erp")
		problems := h.Apply(&cfg, values)
		return cfg, problems
	}

	t.Run("a complete form", func(t *testing.T) {
		cfg, problems := apply(map[string]string{"url": " https://erp.example/orders ", "method": "put", "headers": "X-Tenant: 7\n\nAccept: application/json",
			"auth": "basic", "username": "crossdock", "secret": "pw"})
		require.Empty(t, problems)
		require.Equal(t, "https://erp.example/orders", cfg.URLTemplate)
		require.Equal(t, "PUT", cfg.Method)
		require.Equal(t, map[string]string{"X-Tenant": "7", "Accept": "application/json"}, cfg.Headers)
		require.Equal(t, "pw", cfg.Secret)
		require.False(t, cfg.KeepSecret)
		require.Equal(t, map[string]string{"url": "https://erp.example/orders", "method": "PUT", "headers": "Accept: application/json\nX-Tenant: 7",
			"auth": "basic", "auth_header_name": "", "username": "crossdock"}, h.Values(cfg), "the values never include the secret")
	})

	t.Run("an empty secret keeps the stored one", func(t *testing.T) {
		cfg, _ := apply(map[string]string{"url": "https://erp.example"})
		require.True(t, cfg.KeepSecret)
	})

	t.Run("each problem is named by its field", func(t *testing.T) {
		for name, c := range map[string]struct {
			values map[string]string
			field  string
		}{
			"no URL":                  {map[string]string{}, "url"},
			"not http":                {map[string]string{"url": "sftp://x"}, "url"},
			"header line":             {map[string]string{"url": "https://x", "headers": "oops"}, "headers"},
			"bearer without a secret": {map[string]string{"url": "https://x", "auth": "bearer"}, "secret"},
			"header without its name": {map[string]string{"url": "https://x", "auth": "header", "secret": "k"}, "auth_header_name"},
			"basic without a user":    {map[string]string{"url": "https://x", "auth": "basic", "secret": "k"}, "username"},
			"unknown auth":            {map[string]string{"url": "https://x", "auth": "oauth"}, "auth"},
			"unknown method":          {map[string]string{"url": "https://x", "method": "BREW"}, "method"},
		} {
			t.Run(name, func(t *testing.T) {
				_, problems := apply(c.values)
				require.Contains(t, problems, c.field)
				require.Len(t, problems, 1, "%v", problems)
			})
		}
	})

	t.Run("the gates see a stored configuration's problems with labels", func(t *testing.T) {
		reg := transport.NewRegistry(h)
		got := reg.CheckTargetConfig("http", release.MaskedTargetConfig{URLTemplate: "https://erp.example", Auth: release.AuthBearer})
		require.Equal(t, []release.ConfigProblem{{Field: "secret", Label: "Secret", Problem: "bearer authentication sends a secret; enter it"}}, got)
		require.Nil(t, reg.CheckTargetConfig("sftp", release.MaskedTargetConfig{}), "an unknown kind is the gates' other check")
	})
}

func TestProbe(t *testing.T) {
	t.Parallel()
	h := httptarget.New(nil)
	probe := func(url string, vars map[string]string) transport.Probe {
		cfg := release.DefaultTargetConfig(1, "erp")
		cfg.URLTemplate, cfg.Timeout = url, 2*time.Second
		return h.Probe(context.Background(), transport.Attempt{Config: cfg, Vars: vars})
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()

	t.Run("connects, with the environment's variables", func(t *testing.T) {
		p := probe("http://${HOST}/orders/{messageId}", map[string]string{"HOST": l.Addr().String()})
		require.True(t, p.OK, p.Summary)
		require.Contains(t, p.Steps[0], "connected to "+l.Addr().String())
	})
	t.Run("an unset variable", func(t *testing.T) {
		p := probe("http://${HOST}/orders", nil)
		require.False(t, p.OK)
		require.Contains(t, p.Summary, "${HOST}, which this environment does not set")
	})
	t.Run("not a URL", func(t *testing.T) {
		p := probe("erp.example/orders", nil)
		require.False(t, p.OK)
		require.Contains(t, p.Summary, "is not an http:// or https:// URL with a host")
	})
	t.Run("a host that does not resolve", func(t *testing.T) {
		p := probe("https://no-such-host.invalid/orders", nil)
		require.False(t, p.OK)
		require.Contains(t, p.Summary, "no-such-host.invalid cannot be resolved")
	})
}
