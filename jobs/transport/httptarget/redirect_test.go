package httptarget

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"https://erp.example/orders", "https://erp.example/v2/orders?x=1", true},
		{"https://erp.example/orders", "https://ERP.example:443/orders", true},
		{"http://erp.example/orders", "http://erp.example:80/x", true},
		{"https://erp.example/orders", "http://erp.example/orders", false},
		{"https://erp.example/orders", "https://erp.example:8443/orders", false},
		{"https://erp.example/orders", "https://evil.example/orders", false},
		{"https://erp.example/orders", "https://sub.erp.example/orders", false},
		{"http://127.0.0.1:8080/a", "http://127.0.0.1:8081/a", false},
	} {
		t.Run(c.a+" "+c.b, func(t *testing.T) {
			a, err := url.Parse(c.a)
			require.NoError(t, err)
			b, err := url.Parse(c.b)
			require.NoError(t, err)
			require.Equal(t, c.same, SameOrigin(a, b))
		})
	}
}
