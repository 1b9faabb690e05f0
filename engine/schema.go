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
// Schema and returns it decoded for field checking, and compiled (with
// formats asserted) for checking messages against it.
func compileSourceSchema(raw json.RawMessage) (map[string]any, *jsonschema.Schema, error) {
	return compileJSONSchema(raw, "https://crossdock.dev/schema/source.json")
}

// compileJSONSchema checks that raw is a valid JSON Schema (formats
// asserted) and returns it decoded and compiled.
func compileJSONSchema(raw json.RawMessage, url string) (map[string]any, *jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(url, doc); err != nil {
		return nil, nil, err
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, nil, err
	}
	m, _ := doc.(map[string]any)
	return m, sch, nil
}

// MaxContractViolations bounds how many of a message's violations of its
// source schema are listed; the rest are counted in the last one.
const MaxContractViolations = 50

// checkContract checks a payload against the enforced source schema and
// returns each violation as a validation failure: rule "schema", the
// message naming the JSON pointer of the offending value.
func checkContract(sch *jsonschema.Schema, payload []byte) []ValidationFailure {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return []ValidationFailure{{Rule: "schema", Message: "the payload cannot be read as JSON: " + err.Error()}}
	}
	verr := sch.Validate(doc)
	if verr == nil {
		return nil
	}
	ve, ok := verr.(*jsonschema.ValidationError)
	if !ok {
		return []ValidationFailure{{Rule: "schema", Message: verr.Error()}}
	}
	var diags []Diagnostic
	collectSchemaDiagnostics(ve, &diags)
	sort.SliceStable(diags, func(i, j int) bool { return diags[i].Pointer < diags[j].Pointer })
	out := make([]ValidationFailure, 0, min(len(diags), MaxContractViolations))
	for i, d := range diags {
		if i == MaxContractViolations-1 && len(diags) > MaxContractViolations {
			out = append(out, ValidationFailure{Rule: "schema", Message: fmt.Sprintf("and %d more violations of the source schema", len(diags)-i)})
			break
		}
		where := d.Pointer
		if where == "" {
			where = "the payload"
		}
		out = append(out, ValidationFailure{Rule: "schema", Message: where + ": " + d.Message})
	}
	return out
}
