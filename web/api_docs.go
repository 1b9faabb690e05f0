package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"github.com/yuin/goldmark"

	"github.com/crossdock/crossdock/web/view"
)

// apiDocs renders openapi.json as a page, so people can read the API
// reference inside Crossdock without any CDN or script.
func (s *Server) apiDocs() fiber.Handler {
	return func(c *fiber.Ctx) error {
		d, err := apiDocsView()
		if err != nil {
			return err
		}
		return s.render(c, view.APIDocsPage(s.page(c, "API reference", ""), d))
	}
}

type openAPIDoc struct {
	Info struct {
		Title       string `json:"title"`
		Version     string `json:"version"`
		Description string `json:"description"`
	} `json:"info"`
	Tags []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"tags"`
	Paths map[string]map[string]struct {
		Tags        []string          `json:"tags"`
		Summary     string            `json:"summary"`
		Description string            `json:"description"`
		Security    *[]map[string]any `json:"security"`
		Parameters  []struct {
			Name        string `json:"name"`
			In          string `json:"in"`
			Required    bool   `json:"required"`
			Description string `json:"description"`
		} `json:"parameters"`
		Responses map[string]struct {
			Description string `json:"description"`
			Ref         string `json:"$ref"`
		} `json:"responses"`
	} `json:"paths"`
}

// markdown renders the CommonMark of the OpenAPI document's descriptions
// (code spans, emphasis, links, lists). goldmark leaves raw HTML out unless
// told otherwise, so a description cannot inject markup into the page.
func markdown(src string) templ.Component {
	var b bytes.Buffer
	if err := goldmark.Convert([]byte(src), &b); err != nil {
		return templ.Raw(templ.EscapeString(src))
	}
	return templ.Raw(b.String())
}

var anchorUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

// anchor is an operation's or a tag's id on the page: "get-api-v1-flows-slug".
func anchor(parts ...string) string {
	return strings.Trim(anchorUnsafe.ReplaceAllString(strings.ToLower(strings.Join(parts, " ")), "-"), "-")
}

func apiDocsView() (view.APIDocs, error) {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		return view.APIDocs{}, err
	}
	d := view.APIDocs{Title: doc.Info.Title, Version: doc.Info.Version, Description: markdown(doc.Info.Description)}
	groups := map[string]*view.APIGroup{}
	var order []string
	for _, t := range doc.Tags {
		groups[t.Name] = &view.APIGroup{Name: t.Name, ID: anchor("tag", t.Name), Description: markdown(t.Description)}
		order = append(order, t.Name)
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			o := view.APIOperation{ID: anchor(method, path), Method: strings.ToUpper(method), Path: path, Summary: op.Summary,
				Description: markdown(op.Description), Public: op.Security != nil && len(*op.Security) == 0}
			for _, p := range op.Parameters {
				o.Params = append(o.Params, view.APIParam{Name: p.Name, In: p.In, Required: p.Required, Description: markdown(p.Description)})
			}
			for status, r := range op.Responses {
				desc := r.Description
				if desc == "" && r.Ref != "" {
					desc = "an RFC 9457 problem document saying what to fix"
				}
				o.Responses = append(o.Responses, view.APIResponse{Status: status, Description: markdown(desc)})
			}
			sort.Slice(o.Responses, func(i, j int) bool { return o.Responses[i].Status < o.Responses[j].Status })
			if ex, ok := apiExamples[o.Method+" "+path]; ok {
				o.Example = exampleView(ex)
			}
			tag := "Other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			g, ok := groups[tag]
			if !ok {
				g = &view.APIGroup{Name: tag, ID: anchor("tag", tag)}
				groups[tag] = g
				order = append(order, tag)
			}
			g.Operations = append(g.Operations, o)
		}
	}
	methods := map[string]int{"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
	for _, name := range order {
		g := groups[name]
		if len(g.Operations) == 0 {
			continue
		}
		sort.Slice(g.Operations, func(i, j int) bool {
			a, b := g.Operations[i], g.Operations[j]
			if a.Path != b.Path {
				return a.Path < b.Path
			}
			return methods[a.Method] < methods[b.Method]
		})
		d.Groups = append(d.Groups, *g)
	}
	return d, nil
}

// exampleView writes a recorded example as HTTP text: the request line,
// its headers and body; the status line, the answer's headers and body.
func exampleView(ex APIExample) *view.APIExample {
	req := ex.Request.Method + " " + ex.Request.Path + "\n" + headerLines(ex.Request.Headers) + exampleBody(ex.Request.Body)
	res := fmt.Sprintf("HTTP/1.1 %d %s\n", ex.Response.Status, http.StatusText(ex.Response.Status)) + headerLines(ex.Response.Headers) + exampleBody(ex.Response.Body)
	return &view.APIExample{Request: strings.TrimRight(req, "\n"), Response: strings.TrimRight(res, "\n"), Shortened: ex.Request.Shortened || ex.Response.Shortened}
}

func headerLines(h map[string]string) string {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + ": " + h[n] + "\n")
	}
	return b.String()
}

// exampleBody is a body after the blank line: indented JSON, or the text a
// JSON string holds (NDJSON, for one).
func exampleBody(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return "\n" + text
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return "\n" + string(raw)
	}
	return "\n" + b.String()
}
