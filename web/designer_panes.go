package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/web/view"
)

// Each route card shows two panes: the source's fields (from the selected
// sample and the source schema) and the destination's (from the route's
// target schema and its rows). A source field chosen on the left and a
// destination field chosen on the right make or update the row between
// them (mappings.MapField, MapEach); rows linking the two are numbered on
// both sides.

// maxSourceNodes caps the source pane, so a huge sample cannot flood the
// page.
const maxSourceNodes = 400

// sourceNodes lists the fields of the source: the schema's, then those the
// selected sample adds, arrays' items under "[]". Each has an example
// value from the sample, and for lists the names of their items' fields.
func sourceNodes(def *engine.Definition, sample int) []view.SourceNode {
	var payload any
	if sample >= 0 && sample < len(def.Source.Samples) {
		dec := json.NewDecoder(bytes.NewReader(def.Source.Samples[sample].Payload))
		dec.UseNumber()
		_ = dec.Decode(&payload)
	}
	var out []view.SourceNode
	seen := map[string]int{}
	add := func(n view.SourceNode) {
		if _, ok := seen[n.Path]; ok || len(out) >= maxSourceNodes {
			return
		}
		seen[n.Path] = len(out)
		out = append(out, n)
	}
	if fields, err := engine.TargetTree(def.Source.Schema, nil, "", nil); err == nil && len(def.Source.Schema) > 0 {
		for _, f := range fields {
			kind := strings.Join(f.Types, " or ")
			if kind == "" {
				kind = "any"
			}
			add(view.SourceNode{Path: "source." + f.Path, Label: f.Name, Depth: f.Depth, Kind: kind, List: f.Array})
		}
	}
	var walk func(v any, path, label string, depth int)
	walk = func(v any, path, label string, depth int) {
		if len(out) >= maxSourceNodes {
			return
		}
		if depth > 0 {
			n := view.SourceNode{Path: path, Label: label, Depth: depth - 1, Kind: valueKind(v)}
			if _, isList := v.([]any); isList {
				n.List = true
			} else if _, isObject := v.(map[string]any); !isObject {
				ex, _ := json.Marshal(v)
				n.Example = shorten(string(ex), 40)
			}
			if i, ok := seen[path]; ok {
				if out[i].Example == "" {
					out[i].Example = n.Example
				}
			} else {
				// A field the schema lacks goes after its parent's last field.
				add(n)
			}
		}
		switch t := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(t[k], path+"."+k, k, depth+1)
			}
		case []any:
			// Every item's fields: one item may lack what another has.
			for _, it := range t {
				m, ok := it.(map[string]any)
				if !ok {
					continue
				}
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					walk(m[k], path+"[]."+k, k, depth+1)
				}
			}
		}
	}
	walk(payload, "source", "source", 0)
	sortUnderParents(out)
	return out
}

// sortUnderParents moves fields the sample adds (appended at the end)
// under their parents, keeping every other order.
func sortUnderParents(nodes []view.SourceNode) {
	pos := map[string]int{}
	for i, n := range nodes {
		pos[n.Path] = i
	}
	key := func(n view.SourceNode) []int {
		var k []int
		for p := n.Path; p != "source"; {
			k = append([]int{pos[p]}, k...)
			p = sourceParent(p)
		}
		return k
	}
	keys := make(map[string][]int, len(nodes))
	for _, n := range nodes {
		keys[n.Path] = key(n)
	}
	sort.SliceStable(nodes, func(i, j int) bool {
		a, b := keys[nodes[i].Path], keys[nodes[j].Path]
		for k := 0; k < len(a) && k < len(b); k++ {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return len(a) < len(b)
	})
}

// sourceParent is the field a source field is in, skipping the items
// marker: "source.lines[].sku" → "source.lines".
func sourceParent(p string) string {
	i := strings.LastIndex(p, ".")
	if i < 0 {
		return "source"
	}
	return strings.TrimSuffix(p[:i], "[]")
}

func valueKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "list"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "string"
}

// itemFieldNames are the names of the fields of a source list's items.
func itemFieldNames(nodes []view.SourceNode, list string) []string {
	var out []string
	prefix := list + "[]."
	for _, n := range nodes {
		if strings.HasPrefix(n.Path, prefix) && !strings.Contains(n.Path[len(prefix):], ".") {
			out = append(out, n.Label)
		}
	}
	return out
}

// routePanes builds a route's two panes: the source nodes (shared by every
// route), the destination tree with the live output's mismatches, the
// required fields still unmapped, and the numbers linking each row's
// destination to the source fields it reads.
func routePanes(rt engine.Route, index int, source []view.SourceNode, output json.RawMessage, schemaField view.Field) view.MapPanes {
	ptr := fmt.Sprintf("/routes/%d", index)
	p := view.MapPanes{Index: index, Pointer: ptr, HasSchema: len(rt.TargetSchema) > 0, Schema: schemaField,
		UnmappedRequired: rt.UnmappedRequired, Example: view.Field{Name: "example:" + ptr, Label: "Example output of route " + rt.Name}}
	fields, err := engine.TargetTree(rt.TargetSchema, rt.Mapping, ptr+"/mapping", output)
	if err != nil {
		p.SchemaError = err.Error()
	}
	reads := rowSources(rt.Mapping, ptr+"/mapping")
	sourceLinks := map[string][]int{}
	n := 0
	for _, f := range fields {
		d := view.DestNode{Path: f.Path, Name: f.Name, Depth: f.Depth, Type: strings.Join(f.Types, " or "), Required: f.Required,
			Unmapped: f.Unmapped(), Mapped: f.Mapped, InSchema: f.InSchema, List: f.Array, ForEach: f.ForEach, Mismatch: f.Mismatch}
		if d.Type == "" {
			switch {
			case f.Array:
				d.Type = "list"
			case f.Object:
				d.Type = "object"
			}
		}
		if srcs, ok := reads[f.Path]; ok && len(srcs) > 0 {
			n++
			d.Link = n
			for _, s := range srcs {
				if l := sourceLinks[s]; len(l) == 0 || l[len(l)-1] != n {
					sourceLinks[s] = append(l, n) // a row reading a field twice links it once
				}
			}
		}
		if d.Unmapped {
			p.Unmapped = append(p.Unmapped, d)
		}
		p.Dest = append(p.Dest, d)
	}
	p.Source = make([]view.SourceNode, len(source))
	copy(p.Source, source)
	for i := range p.Source {
		p.Source[i].Links = sourceLinks[p.Source[i].Path]
	}
	return p
}

var pathToken = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*(?:\??\.[A-Za-z_][A-Za-z0-9_]*)*`)

// rowSources maps each row's destination path to the source fields its
// expression (or for-each list) reads, item names read as the source list
// they run over: "line.sku" inside a for-each over source.lines is
// source.lines[].sku.
func rowSources(rows []engine.Row, base string) map[string][]string {
	out := map[string][]string{}
	var walk func(rows []engine.Row, prefix string, scope map[string]string, depth int)
	walk = func(rows []engine.Row, prefix string, scope map[string]string, depth int) {
		if depth > engine.MaxRowDepth {
			return
		}
		for _, r := range rows {
			if r.Target == "" {
				continue
			}
			path := prefix + r.Target
			src := r.Expr
			if r.ForEach != "" {
				src = r.ForEach
			}
			out[path] = append(out[path], readPaths(src, scope)...)
			switch {
			case r.ForEach != "" && len(r.Rows) > 0:
				inner := map[string]string{}
				for k, v := range scope {
					inner[k] = v
				}
				if reads := readPaths(r.ForEach, scope); len(reads) == 1 && strings.TrimSpace(r.ForEach) == exprOfPath(reads[0], scope, r.ForEach) {
					inner[itemVar(r)] = reads[0] + "[]"
				}
				walk(r.Rows, path+"[].", inner, depth+1)
			case len(r.Rows) > 0:
				walk(r.Rows, path+".", scope, depth+1)
			}
		}
	}
	walk(rows, "", map[string]string{"source": "source"}, 0)
	return out
}

// readPaths are the source paths an expression reads: each run of names
// joined by dots that starts at source or at an item name in scope.
func readPaths(expr string, scope map[string]string) []string {
	var out []string
	for _, loc := range pathToken.FindAllStringIndex(stripStrings(expr), -1) {
		tok := strings.ReplaceAll(expr[loc[0]:loc[1]], "?.", ".")
		if loc[0] > 0 && expr[loc[0]-1] == '.' {
			continue // a member of something else
		}
		head, rest, _ := strings.Cut(tok, ".")
		base, ok := scope[head]
		if !ok {
			continue
		}
		if rest != "" {
			base += "." + rest
		}
		out = append(out, base)
	}
	return out
}

// exprOfPath is the for-each list expression as written when it is just
// a path (so the item name can be traced back to the source list).
func exprOfPath(path string, scope map[string]string, written string) string {
	for name, base := range scope {
		if path == base || strings.HasPrefix(path, base+".") {
			candidate := name + strings.TrimPrefix(path, base)
			if strings.TrimSpace(written) == candidate || strings.TrimSpace(written) == candidate+" ?? []" {
				return strings.TrimSpace(written)
			}
		}
	}
	return ""
}

// stripStrings blanks out string literals so that text inside them is not
// read as a path; offsets stay the same.
func stripStrings(expr string) string {
	b := []byte(expr)
	for i := 0; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\'' || c == '`' {
			for i++; i < len(b) && b[i] != c; i++ {
				if b[i] == '\\' && c != '`' && i+1 < len(b) {
					b[i] = ' '
					i++
				}
				b[i] = ' '
			}
		}
	}
	return string(b)
}

func itemVar(r engine.Row) string {
	if r.As == "" {
		return "item"
	}
	return r.As
}
