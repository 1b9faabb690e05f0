package web_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenAPIDocumentsEveryAPIRoute keeps /api/openapi.json true: every API
// route the router serves is in the document with its method, and every
// documented operation is served.
func TestOpenAPIDocumentsEveryAPIRoute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.browser(t).get("/api/openapi.json")
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.body), &doc))

	param := regexp.MustCompile(`:([a-z]+)(<[^>]+>)?`)
	served := map[string]bool{}
	for _, r := range b.app.GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/api/") || r.Method == "USE" || r.Method == "HEAD" || strings.Contains(r.Path, "*") || r.Path == "/api" {
			continue
		}
		// "\:" is fiber's escaped literal colon (messages:batch).
		path := strings.ReplaceAll(r.Path, `\:`, "\x00")
		path = strings.ReplaceAll(param.ReplaceAllString(path, "{$1}"), "\x00", ":")
		key := strings.ToLower(r.Method) + " " + path
		served[key] = true
		ops, ok := doc.Paths[path]
		require.True(t, ok, "%s is served but not documented", path)
		_, ok = ops[strings.ToLower(r.Method)]
		require.True(t, ok, "%s %s is served but not documented", r.Method, path)
	}
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		for method := range ops {
			require.True(t, served[method+" "+path], "%s %s is documented but not served", method, path)
		}
	}
}

func TestAPIReferencePage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, "vic@shop.example", "viewer")
	br := b.browser(t)
	br.signIn("vic@shop.example")
	res := br.get("/docs/api")
	require.Equal(t, 200, res.StatusCode)
	require.Contains(t, res.body, "/api/v1/flows/{slug}/draft")
	require.Contains(t, res.body, "Replace the draft")
	require.NotContains(t, res.body, "cdn", "served locally")
	t.Run("a table of contents links every operation", func(t *testing.T) {
		require.Contains(t, res.body, `id="api-toc"`)
		require.Contains(t, res.body, `href="#put-api-v1-flows-slug-draft"`)
		require.Contains(t, res.body, `id="put-api-v1-flows-slug-draft"`)
	})
	t.Run("every operation shows the example recorded against the handlers", func(t *testing.T) {
		require.Contains(t, res.body, "<h4>Example</h4>")
		require.Contains(t, res.body, "POST /api/v1/envs/dev/flows/shop-orders/messages\nAuthorization: Bearer cdk_…\nContent-Type: application/json\nIdempotency-Key: order-1001")
		require.Contains(t, res.body, "HTTP/1.1 202 Accepted\nContent-Type: application/json\nLocation: /api/v1/messages/")
		require.Contains(t, res.body, "Cookie: crossdock_session=…", "approving takes a person's session")
		require.Equal(t, strings.Count(res.body, `class="card api-op"`), strings.Count(res.body, "<h4>Example</h4>"))
	})
	t.Run("the served document carries them as OpenAPI examples", func(t *testing.T) {
		var doc struct {
			Paths map[string]map[string]struct {
				RequestBody struct {
					Content map[string]struct {
						Examples map[string]struct {
							Value any `json:"value"`
						} `json:"examples"`
					} `json:"content"`
				} `json:"requestBody"`
				Responses map[string]struct {
					Content map[string]struct {
						Examples map[string]struct {
							Value any `json:"value"`
						} `json:"examples"`
					} `json:"content"`
				} `json:"responses"`
			} `json:"paths"`
		}
		require.NoError(t, json.Unmarshal([]byte(br.get("/api/openapi.json").body), &doc))
		op := doc.Paths["/api/v1/envs/{env}/flows/{flow}/messages"]["post"]
		require.NotNil(t, op.RequestBody.Content["application/json"].Examples["recorded"].Value)
		require.NotNil(t, op.Responses["202"].Content["application/json"].Examples["recorded"].Value)
		batch := doc.Paths["/api/v1/envs/{env}/flows/{flow}/messages:batch"]["post"]
		require.IsType(t, "", batch.RequestBody.Content["application/x-ndjson"].Examples["recorded"].Value, "NDJSON is a string")
	})
	t.Run("Markdown is rendered, not shown", func(t *testing.T) {
		prose := regexp.MustCompile(`(?s)<pre class="json">.*?</pre>`).ReplaceAllString(res.body, "") // examples are what the API answers
		require.NotRegexp(t, "`[a-zA-Z/{}.-]+`", prose, "no literal backticks left")
		require.Contains(t, res.body, "<code>")
	})
}

// Every operation of the OpenAPI document belongs to a tag the document
// describes, so the reference's contents group it.
func TestOpenAPIOperationsAreTagged(t *testing.T) {
	var doc struct {
		Tags []struct {
			Name string `json:"name"`
		} `json:"tags"`
		Paths map[string]map[string]struct {
			Tags []string `json:"tags"`
		} `json:"paths"`
	}
	raw, err := os.ReadFile("openapi.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &doc))
	known := map[string]bool{}
	for _, tg := range doc.Tags {
		known[tg.Name] = true
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if method == "parameters" {
				continue
			}
			require.Len(t, op.Tags, 1, "%s %s needs one tag", method, path)
			require.True(t, known[op.Tags[0]], "%s %s: tag %q is not described under tags", method, path, op.Tags[0])
		}
	}
}
