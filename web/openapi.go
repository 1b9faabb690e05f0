package web

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// openAPISource describes the JSON API. It is kept true in the same commit
// as every API change.
//
//go:embed openapi.json
var openAPISource []byte

// openAPIExamplesSource holds one example request and answer per
// operation, keyed "METHOD /path template". TestAPIExamples records them
// against the real handlers and fails when they drift:
//
//	go test ./web -run TestAPIExamples -update
//
//go:embed openapi_examples.json
var openAPIExamplesSource []byte

// openAPIDocument is the served document: openapi.json with the examples
// merged in as OpenAPI examples of each operation's request body and
// answer. apiExamples are the same examples for the reference page.
var openAPIDocument, apiExamples = mustMergeExamples(openAPISource, openAPIExamplesSource)

// APIExample is one recorded request to the JSON API and its answer, as
// web/openapi_examples.json holds them.
type APIExample struct {
	Request  APIExampleRequest  `json:"request"`
	Response APIExampleResponse `json:"response"`
}

// APIExampleRequest is an example's request: the concrete path (with its
// query), the headers that matter (credentials as placeholders) and the
// body — JSON when the content type is JSON, else a string.
type APIExampleRequest struct {
	Method    string            `json:"method"`
	Path      string            `json:"path"`
	Headers   map[string]string `json:"headers,omitempty"`
	Body      json.RawMessage   `json:"body,omitempty"`
	Shortened bool              `json:"shortened,omitempty"` // nested values of a long body are "…"
}

// APIExampleResponse is an example's answer.
type APIExampleResponse struct {
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers,omitempty"`
	Body      json.RawMessage   `json:"body,omitempty"`
	Shortened bool              `json:"shortened,omitempty"`
}

// MarshalAPIExamples writes examples as web/openapi_examples.json holds
// them: indented, keys sorted, text unescaped.
func MarshalAPIExamples(examples map[string]APIExample) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(examples)
	return b.Bytes(), err
}

func mustMergeExamples(doc, examples []byte) ([]byte, map[string]APIExample) {
	merged, ex, err := mergeExamples(doc, examples)
	if err != nil {
		panic(fmt.Sprintf("web: the embedded OpenAPI document and its examples: %v", err))
	}
	return merged, ex
}

// mergeExamples adds each example to its operation of doc: the request
// body under requestBody.content[type].examples and the answer under
// responses[status].content[type].examples (a response that is a $ref is
// left as it is).
func mergeExamples(doc, examples []byte) ([]byte, map[string]APIExample, error) {
	var ex map[string]APIExample
	if err := json.Unmarshal(examples, &ex); err != nil {
		return nil, nil, fmt.Errorf("openapi_examples.json: %w", err)
	}
	var d map[string]any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		return nil, nil, fmt.Errorf("openapi.json: %w", err)
	}
	paths, _ := d["paths"].(map[string]any)
	keys := make([]string, 0, len(ex))
	for k := range ex {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		e := ex[key]
		method, path, _ := strings.Cut(key, " ")
		ops, _ := paths[path].(map[string]any)
		op, ok := ops[strings.ToLower(method)].(map[string]any)
		if !ok {
			continue // an operation removed since the examples were recorded; TestAPIExamples says so
		}
		summary := e.Request.Method + " " + e.Request.Path
		if len(e.Request.Body) > 0 {
			if rb, ok := op["requestBody"].(map[string]any); ok {
				addExample(rb, e.Request.Headers["Content-Type"], summary, e.Request.Body)
			}
		}
		if len(e.Response.Body) > 0 {
			responses, _ := op["responses"].(map[string]any)
			if r, ok := responses[strconv.Itoa(e.Response.Status)].(map[string]any); ok && r["$ref"] == nil {
				addExample(r, e.Response.Headers["Content-Type"], summary, e.Response.Body)
			}
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, nil, err
	}
	return b.Bytes(), ex, nil
}

// addExample puts value as the example "recorded" of the media type
// contentType (its first media type when it does not name it) of a request
// body or response object.
func addExample(obj map[string]any, contentType, summary string, value json.RawMessage) {
	content, _ := obj["content"].(map[string]any)
	if content == nil {
		content = map[string]any{}
		obj["content"] = content
	}
	mt := strings.TrimSpace(strings.Split(contentType, ";")[0])
	media, ok := content[mt].(map[string]any)
	if !ok {
		names := make([]string, 0, len(content))
		for n := range content {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) > 0 {
			media, _ = content[names[0]].(map[string]any)
		}
		if media == nil {
			if mt == "" {
				return
			}
			media = map[string]any{}
			content[mt] = media
		}
	}
	all, _ := media["examples"].(map[string]any)
	if all == nil {
		all = map[string]any{}
		media["examples"] = all
	}
	all["recorded"] = map[string]any{"summary": summary, "value": value}
}

// openAPI serves the OpenAPI document, without authentication so tools can
// read it.
func (s *Server) openAPI() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(openAPIDocument)
	}
}
