package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
)

// previewPlaces are where FuzzPreview puts its expression in the storefront
// definition, chosen by the input's where byte.
var previewPlaces = []func(def map[string]any, expr string){
	func(def map[string]any, expr string) { def["keys"].(map[string]any)["correlation"] = expr },
	func(def map[string]any, expr string) {
		rules, _ := def["validation"].([]any)
		def["validation"] = append(rules, map[string]any{"name": "fuzz", "rule": expr, "message": "m"})
	},
	func(def map[string]any, expr string) { firstRoute(def)["when"] = expr },
	func(def map[string]any, expr string) {
		r := firstRoute(def)
		r["mapping"] = append([]any{map[string]any{"target": "fuzz", "expr": expr}}, r["mapping"].([]any)...)
	},
	func(def map[string]any, expr string) {
		r := firstRoute(def)
		r["mapping"] = append([]any{map[string]any{"target": "fuzz", "forEach": expr, "rows": []any{map[string]any{"target": "x", "expr": "item"}}}}, r["mapping"].([]any)...)
	},
}

func firstRoute(def map[string]any) map[string]any {
	return def["routes"].([]any)[0].(map[string]any)
}

// FuzzPreview sends arbitrary expressions and payloads to the designer's
// preview API (POST /api/v1/flows/{flow}/preview) as a viewer, the weakest
// role that may call it: the expression goes into the storefront
// definition at one of five places. Whatever the input, the server must
// answer (a stack overflow would kill the fuzzing process) with JSON,
// 200 or a 4xx problem, within 10 s: the preview's own budget is 5 s.
func FuzzPreview(f *testing.F) {
	b := setup(f)
	b.user(f, "ana@shop.example", account.RoleAnalyst)
	b.user(f, "vic@shop.example", account.RoleViewer)
	ana := b.browser(f)
	ana.signIn("ana@shop.example")
	createStorefrontFlow(f, ana)
	vic := b.browser(f)
	vic.signIn("vic@shop.example")
	vic.get("/flows/shop-orders")
	res, out := vic.api(http.MethodGet, "/api/v1/flows/shop-orders/draft", nil)
	require.Equal(f, http.StatusOK, res.StatusCode)
	def, err := json.Marshal(out["definition"])
	require.NoError(f, err)
	sample, err := json.Marshal(out["definition"].(map[string]any)["source"].(map[string]any)["samples"].([]any)[0].(map[string]any)["payload"])
	require.NoError(f, err)
	var cookies []*http.Cookie
	for _, c := range vic.cookies {
		cookies = append(cookies, c)
	}
	csrf := vic.csrf

	// where: 0 correlation, 1 rule, 2 route condition, 3 row, 4 for-each.
	for _, s := range []struct {
		expr  string
		where uint8
	}{
		{`source.id`, 0},
		{`decRound(decMul(first(source.line_items).price, 2), 2)`, 3},
		{`map(source.line_items, .sku)`, 4},
		{`len(source.line_items) > 0`, 1},
		{strings.Repeat("(", 1_000_000) + "1" + strings.Repeat(")", 1_000_000), 0},
		{strings.Repeat("(", 4999) + "1" + strings.Repeat(")", 4999), 3},
		{strings.Repeat("-", 5000) + "1", 2},
		{`len(toJSON(map(1..100000, source)))`, 0},
		{`len(string(map(1..100000, source)))`, 3},
		{`sha256(map(1..100000, source))`, 3},
		{`map(1..100000, source)`, 3},
		{`len(uniq(1..100000))`, 3},
		{`now().AddDate(100000, 0, 0)`, 3},
		{`count(1..900000, # % 7 == 0) > 0`, 1},
	} {
		f.Add(s.expr, sample, s.where)
	}
	f.Add(`source.id`, []byte(`{"a": `+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+`}`), uint8(3))
	f.Add(`source`, []byte("not json \xff"), uint8(0))

	f.Fuzz(func(t *testing.T, expr string, payload []byte, where uint8) {
		var d map[string]any
		require.NoError(t, json.Unmarshal(def, &d))
		previewPlaces[int(where)%len(previewPlaces)](d, expr)
		var p any = json.RawMessage(payload)
		if !json.Valid(payload) {
			p = string(payload)
		}
		body, err := json.Marshal(map[string]any{"payload": p, "definition": d})
		if err != nil {
			return // not representable as a request body
		}
		req := httptest.NewRequest(http.MethodPost, "/api/v1/flows/shop-orders/preview", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		start := time.Now()
		res, err := b.app.Test(req, 30_000)
		require.NoError(t, err, "the server did not answer within 30 s")
		took := time.Since(start)
		answer := new(bytes.Buffer)
		_, _ = answer.ReadFrom(res.Body)
		switch res.StatusCode {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		default:
			t.Fatalf("status %d: %.500s", res.StatusCode, answer)
		}
		require.True(t, json.Valid(answer.Bytes()), "not JSON: %.500s", answer)
		require.Less(t, took, 10*time.Second, "a preview took %v", took)
	})
}
