package engine

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var schemaPrinter = message.NewPrinter(language.English)

// DefinitionSchema is the JSON Schema (draft 2020-12) of the definition
// format, as published in docs/definition.schema.json for editors.
//
//go:embed schema/definition.schema.json
var DefinitionSchema []byte

const definitionSchemaURL = "https://crossdock.dev/schema/definition.schema.json"

var definitionSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(DefinitionSchema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(definitionSchemaURL, doc); err != nil {
		return nil, err
	}
	return c.Compile(definitionSchemaURL)
})

// validateDefinitionSchema checks data against the embedded schema and turns
// every leaf failure into a diagnostic naming its JSON pointer.
func validateDefinitionSchema(data []byte) error {
	sch, err := definitionSchema()
	if err != nil {
		// The schema is embedded and covered by tests; failing here is a
		// build defect, not a user error.
		panic(fmt.Sprintf("engine: embedded definition schema: %v", err))
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return &DefinitionError{Diagnostics: []Diagnostic{{Section: SectionSchema, Message: "definition is not valid JSON: " + err.Error()}}}
	}
	verr := sch.Validate(doc)
	if verr == nil {
		return nil
	}
	ve, ok := verr.(*jsonschema.ValidationError)
	if !ok {
		return &DefinitionError{Diagnostics: []Diagnostic{{Section: SectionSchema, Message: verr.Error()}}}
	}
	var diags []Diagnostic
	collectSchemaDiagnostics(ve, &diags)
	sort.SliceStable(diags, func(i, j int) bool { return diags[i].Pointer < diags[j].Pointer })
	return &DefinitionError{Diagnostics: diags}
}

func collectSchemaDiagnostics(ve *jsonschema.ValidationError, diags *[]Diagnostic) {
	if len(ve.Causes) == 0 {
		switch ve.ErrorKind.(type) {
		case *kind.Group, *kind.Schema, *kind.Reference:
			return
		}
		*diags = append(*diags, Diagnostic{
			Section: SectionSchema,
			Pointer: jsonPointer(ve.InstanceLocation),
			Message: ve.ErrorKind.LocalizedString(schemaPrinter),
		})
		return
	}
	for _, c := range ve.Causes {
		collectSchemaDiagnostics(c, diags)
	}
}

// jsonPointer builds an RFC 6901 pointer from tokens.
func jsonPointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}

// compileSourceSchema checks that source.schema is itself a valid JSON
// Schema and returns it decoded for field checking.
func compileSourceSchema(raw json.RawMessage) (map[string]any, error) {
	return compileJSONSchema(raw, "https://crossdock.dev/schema/source.json")
}

// compileJSONSchema checks that raw is a valid JSON Schema and returns it
// decoded.
func compileJSONSchema(raw json.RawMessage, url string) (map[string]any, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	if _, err := c.Compile(url); err != nil {
		return nil, err
	}
	m, _ := doc.(map[string]any)
	return m, nil
}
