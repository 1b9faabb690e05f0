package httptarget_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/jobs/transport/httptarget"
	"github.com/crossdock/crossdock/mappings/release"
)

func TestHeaderContentType(t *testing.T) {
	t.Parallel()
	cfg := release.DefaultTargetConfig(1, "erp")

	t.Run("the body's content type when the delivery has one", func(t *testing.T) {
		h := httptarget.Header(cfg, transport.Delivery{Body: []byte("<a/>"), ContentType: "application/xml; charset=utf-8"})
		require.Equal(t, "application/xml; charset=utf-8", h.Get("Content-Type"))
	})
	t.Run("JSON when it has none", func(t *testing.T) {
		h := httptarget.Header(cfg, transport.Delivery{Body: []byte("{}")})
		require.Equal(t, "application/json", h.Get("Content-Type"))
	})
	t.Run("a configured Content-Type header does not win over the body's", func(t *testing.T) {
		c := cfg
		c.Headers = map[string]string{"Content-Type": "text/plain"}
		h := httptarget.Header(c, transport.Delivery{Body: []byte("a,b\r\n"), ContentType: "text/csv; charset=utf-8"})
		require.Equal(t, "text/csv; charset=utf-8", h.Get("Content-Type"))
	})
}
