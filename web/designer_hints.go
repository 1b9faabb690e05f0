package web

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/web/view"
)

// Caps on what the page embeds for the expression editor, so a huge sample,
// schema or lookup table cannot flood it.
const (
	maxHintPaths      = 600
	maxHintItems      = 50 // array items whose fields are merged
	maxHintLookupKeys = 200
	maxHintSchemaRefs = 16 // $ref hops along one path
)

// expressionHints gathers what the expression editor completes: the source's
// fields (the selected sample's, merged with the source schema's), the
// lookup tables and their keys, the variables the preview runs with and the
// function library.
func expressionHints(def *engine.Definition, sample int) view.ExprHints {
	paths := map[string]*view.PathHint{}
	add := func(path string) *view.PathHint {
		if h, ok := paths[path]; ok {
			return h
		}
		if len(paths) >= maxHintPaths {
			return nil
		}
		h := &view.PathHint{Path: path}
		paths[path] = h
		return h
	}
	if sample >= 0 && sample < len(def.Source.Samples) {
		sampleHints(def.Source.Samples[sample].Payload, add)
	}
	if len(def.Source.Schema) > 0 {
		var root any
		if json.Unmarshal(def.Source.Schema, &root) == nil {
			schemaHints(root, root, "source", 0, add)
		}
	}
	h := view.ExprHints{Paths: []view.PathHint{}, Lookups: []view.LookupHint{}, Vars: []string{}, Functions: []view.FunctionHint{}}
	for _, p := range paths {
		h.Paths = append(h.Paths, *p)
	}
	sort.Slice(h.Paths, func(i, j int) bool { return h.Paths[i].Path < h.Paths[j].Path })

	for name, lk := range def.Lookups {
		lh := view.LookupHint{Name: name, Description: lk.Description, Keys: []string{}}
		for k := range lk.Entries {
			lh.Keys = append(lh.Keys, k)
		}
		sort.Strings(lh.Keys)
		if len(lh.Keys) > maxHintLookupKeys {
			lh.Keys = lh.Keys[:maxHintLookupKeys]
		}
		h.Lookups = append(h.Lookups, lh)
	}
	sort.Slice(h.Lookups, func(i, j int) bool { return h.Lookups[i].Name < h.Lookups[j].Name })
	for k := range previewVars(def) {
		h.Vars = append(h.Vars, k)
	}
	sort.Strings(h.Vars)
	for _, fn := range engine.Functions() {
		h.Functions = append(h.Functions, view.FunctionHint{Name: fn.Name, Signature: fn.Signature, Doc: fn.Description})
	}
	return h
}

// sampleHints adds every field of a sample payload; the fields of an
// array's items are merged under path[].
func sampleHints(payload []byte, add func(string) *view.PathHint) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return
	}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		h := add(path)
		if h == nil {
			return
		}
		switch t := v.(type) {
		case map[string]any:
			h.Kind = "object"
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(t[k], path+"."+k)
			}
		case []any:
			h.Kind = "array"
			for i, it := range t {
				if i == maxHintItems {
					break
				}
				walk(it, path+"[]")
			}
		default:
			if h.Kind != "" && h.Kind != "null" {
				return // an earlier item gave the kind and example
			}
			switch t.(type) {
			case json.Number:
				h.Kind = "number"
			case bool:
				h.Kind = "bool"
			case nil:
				h.Kind = "null"
			default:
				h.Kind = "string"
			}
			ex, _ := json.Marshal(t)
			h.Example = shorten(string(ex), 40)
		}
	}
	walk(v, "source")
}

// schemaHints adds the fields a JSON Schema declares: properties, array
// items, local $refs and the branches of allOf, anyOf and oneOf. A field the
// sample has keeps the sample's kind; the schema adds its description.
func schemaHints(root, s any, path string, refs int, add func(string) *view.PathHint) {
	m, ok := s.(map[string]any)
	if !ok {
		return
	}
	if ref, ok := m["$ref"].(string); ok && refs < maxHintSchemaRefs {
		if target := schemaRef(root, ref); target != nil {
			schemaHints(root, target, path, refs+1, add)
		}
	}
	h := add(path)
	if h == nil {
		return
	}
	if h.Kind == "" || h.Kind == "null" {
		if k := schemaKind(m["type"]); k != "" {
			h.Kind = k
		}
	}
	if h.Doc == "" {
		if d, ok := m["description"].(string); ok {
			h.Doc = d
		} else if t, ok := m["title"].(string); ok {
			h.Doc = t
		}
	}
	if props, ok := m["properties"].(map[string]any); ok {
		if h.Kind == "" {
			h.Kind = "object"
		}
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			schemaHints(root, props[k], path+"."+k, refs, add)
		}
	}
	if items, ok := m["items"]; ok {
		if h.Kind == "" {
			h.Kind = "array"
		}
		schemaHints(root, items, path+"[]", refs, add)
	}
	for _, kw := range []string{"allOf", "anyOf", "oneOf"} {
		if branches, ok := m[kw].([]any); ok {
			for _, b := range branches {
				schemaHints(root, b, path, refs, add)
			}
		}
	}
}

// schemaRef resolves a local reference ("#/$defs/address").
func schemaRef(root any, ref string) any {
	ptr, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil
	}
	cur := root
	for _, tok := range strings.Split(ptr, "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[tok]
	}
	return cur
}

// schemaKind names a schema's type the way the sample walk does; of a list
// of types the first that is not "null".
func schemaKind(t any) string {
	name := ""
	switch v := t.(type) {
	case string:
		name = v
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok && s != "null" {
				name = s
				break
			}
		}
	}
	switch name {
	case "boolean":
		return "bool"
	case "integer":
		return "number"
	}
	return name
}
