package mappings

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/crossdock/crossdock/engine"
)

//go:embed templates/*.json
var templateFiles embed.FS

// Template is a flow definition shipped with the product, with realistic
// sample payloads and test cases, to start a flow from.
type Template struct {
	ID          string // file name without .json, e.g. storefront-order-to-erp
	Name        string
	Description string
	System      string
	Event       string
	Definition  []byte // the definition JSON as shipped
}

// Templates lists the shipped templates by name.
func Templates() ([]Template, error) {
	entries, err := fs.ReadDir(templateFiles, "templates")
	if err != nil {
		return nil, err
	}
	var out []Template
	for _, e := range entries {
		b, err := templateFiles.ReadFile("templates/" + e.Name())
		if err != nil {
			return nil, err
		}
		def, err := engine.ParseDefinition(b)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", e.Name(), err)
		}
		out = append(out, Template{
			ID: strings.TrimSuffix(e.Name(), ".json"), Name: def.Name, Description: def.Description,
			System: def.Source.System, Event: def.Source.Event, Definition: b,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// TemplateByID returns one template.
func TemplateByID(id string) (Template, bool) {
	ts, err := Templates()
	if err != nil {
		return Template{}, false
	}
	for _, t := range ts {
		if t.ID == id {
			return t, true
		}
	}
	return Template{}, false
}

// BlankDefinition is where a flow from scratch starts: one route with one
// row, so the designer has something to edit.
func BlankDefinition(name, system, event string) *engine.Definition {
	if system == "" {
		system = "storefront"
	}
	if event == "" {
		event = "order.created"
	}
	return &engine.Definition{
		FormatVersion: engine.FormatVersion,
		Name:          name,
		Source: engine.Source{System: system, Event: event, Samples: []engine.Sample{
			{Name: "first sample", Payload: []byte(`{"id": 1001, "name": "#1001"}`)},
		}},
		Keys:    engine.Keys{Idempotency: "string(source.id)", Correlation: "source.name"},
		Targets: []engine.Target{{Name: "capture", Kind: engine.TargetCapture}},
		Routes: []engine.Route{{
			Name: "main", Target: "capture",
			Mapping: []engine.Row{{Target: "orderNumber", Expr: "source.name"}},
		}},
	}
}
