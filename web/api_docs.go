package web

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

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
	Paths map[string]map[string]struct {
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

func apiDocsView() (view.APIDocs, error) {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		return view.APIDocs{}, err
	}
	d := view.APIDocs{Title: doc.Info.Title, Version: doc.Info.Version, Description: doc.Info.Description}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			o := view.APIOperation{Method: strings.ToUpper(method), Path: path, Summary: op.Summary, Description: op.Description,
				Public: op.Security != nil && len(*op.Security) == 0}
			for _, p := range op.Parameters {
				o.Params = append(o.Params, view.APIParam{Name: p.Name, In: p.In, Required: p.Required, Description: p.Description})
			}
			for status, r := range op.Responses {
				desc := r.Description
				if desc == "" && r.Ref != "" {
					desc = "an RFC 9457 problem document saying what to fix"
				}
				o.Responses = append(o.Responses, view.APIResponse{Status: status, Description: desc})
			}
			sort.Slice(o.Responses, func(i, j int) bool { return o.Responses[i].Status < o.Responses[j].Status })
			d.Operations = append(d.Operations, o)
		}
	}
	order := map[string]int{"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
	sort.Slice(d.Operations, func(i, j int) bool {
		a, b := d.Operations[i], d.Operations[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return order[a.Method] < order[b.Method]
	})
	return d, nil
}
