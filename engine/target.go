package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// A route's target schema (Route.TargetSchema) describes what its target
// expects. TargetTree compares it with the route's rows and, given one, an
// output the route produced: which fields are mapped, which required ones
// are not, and where the value does not have the schema's type.

// TargetField is one field of a route's output as the designer's
// destination tree shows it.
type TargetField struct {
	// Path is the field's output path: names separated by dots, an
	// array's items as "[]", e.g. "customer.email" or "items[].material".
	Path string
	// Name is the last name of Path ("material"); Depth counts the names
	// before it.
	Name  string
	Depth int
	// Types are the schema's types ("string", "number" …); empty when the
	// schema does not say.
	Types []string
	// Array and Object say what the field holds, by the schema's word or,
	// for a field the schema lacks, by the row that makes it.
	Array, Object bool
	// Required is whether the schema requires the field in its parent.
	Required bool
	// Expected is whether the field must be present in the output: it is
	// required and its parent is there (the root, a required or mapped
	// object, or the items of an array a for-each row makes).
	Expected bool
	// Mapped is whether a row makes the field: its own row, a row making
	// a whole value that contains it, or rows making fields inside it.
	Mapped bool
	// Row is the pointer of the row that makes the field or the whole
	// value it is in; "" when only rows of its fields do, or none.
	Row string
	// ForEach is whether Row is a for-each row building objects (an array
	// whose items' fields are child rows).
	ForEach bool
	// InSchema is false for a field a row makes that the schema does not
	// declare (and for every field when the route has no schema).
	InSchema bool
	// Mismatch says where the output's value does not fit the schema,
	// e.g. `"19.99" is text; the schema wants a number`; "" when it fits
	// or there is no output to check.
	Mismatch string
	// hasFields is whether the schema declares the object's properties.
	hasFields bool
}

// Unmapped is whether the field is a required field no row makes. An
// object whose fields the schema declares is never unmapped itself: its
// required fields are.
func (f TargetField) Unmapped() bool {
	return f.Expected && !f.Mapped && !(f.Object && f.hasFields)
}

// MaxTargetFields caps the fields TargetTree lists; a larger schema is
// shown up to it.
const MaxTargetFields = 2_000

// TargetTree lists the fields of a route's output: every field of schema
// (depth first, in the schema's order, local $refs followed) and every
// field a row of mapping makes that the schema lacks, each with whether it
// is mapped and required. base is the pointer of mapping (e.g.
// /routes/0/mapping), from which Row is made. output, when given, is what
// the route produced for one input; each field's values in it are checked
// against the schema's type, multipleOf (decimal places) and pattern.
// With no schema, the fields are those the rows make.
func TargetTree(schema json.RawMessage, mapping []Row, base string, output json.RawMessage) ([]TargetField, error) {
	m := mappedPaths(mapping, base)
	t := &targetWalk{m: m, seen: map[string]bool{}}
	if len(bytes.TrimSpace(schema)) > 0 {
		if len(schema) > MaxSchemaBytes || jsonDepth(schema) > MaxSchemaDepth {
			return nil, fmt.Errorf("the target schema is over the limits (%d bytes, %d levels deep)", MaxSchemaBytes, MaxSchemaDepth)
		}
		root, err := decodeOrdered(schema)
		if err != nil {
			return nil, fmt.Errorf("the target schema is not valid JSON: %w", err)
		}
		t.root = root
		t.object(root, "", 0, true)
	}
	for _, p := range m.order {
		if !t.seen[p] && len(t.out) < MaxTargetFields {
			name, depth := lastName(p)
			f := TargetField{Path: p, Name: name, Depth: depth, Object: m.object[p], Array: m.array[p]}
			t.mark(&f)
			t.out = append(t.out, f)
		}
	}
	if len(bytes.TrimSpace(output)) > 0 {
		out, err := decodeOrdered(output)
		if err == nil {
			for i := range t.out {
				if t.out[i].InSchema {
					t.out[i].Mismatch = mismatch(out, t.out[i], t.facets[t.out[i].Path])
				}
			}
		}
	}
	return t.out, nil
}

// UnmappedRequired are the diagnostics of every route with a target
// schema: one per required field no row maps, at the route's
// /targetSchema. Compile reports those of routes whose UnmappedRequired is
// UnmappedError; publishing shows the others as warnings.
func UnmappedRequired(def *Definition) []Diagnostic {
	var out []Diagnostic
	for i, r := range def.Routes {
		if len(r.TargetSchema) == 0 {
			continue
		}
		fields, err := TargetTree(r.TargetSchema, r.Mapping, fmt.Sprintf("/routes/%d/mapping", i), nil)
		if err != nil {
			continue // CheckLimits and Compile report the schema itself
		}
		for _, f := range fields {
			if f.Unmapped() {
				out = append(out, Diagnostic{Section: SectionRoute, Pointer: fmt.Sprintf("/routes/%d/targetSchema", i), Route: r.Name, Target: f.Path,
					Message: fmt.Sprintf("required target field %s is not mapped; add a row for it", f.Path)})
			}
		}
	}
	return out
}

// rowPaths is what a mapping makes: the output path of every row, which
// rows make a whole value, which make objects or arrays, and every path
// with a row at or below it.
type rowPaths struct {
	exact   map[string]string // path → pointer of the row that makes it
	whole   map[string]bool   // a value, constant or array of values: everything below is made
	forEach map[string]bool   // a for-each building objects from child rows
	object  map[string]bool
	array   map[string]bool
	touched map[string]bool // a row makes this path or something inside it
	order   []string
}

func mappedPaths(rows []Row, base string) rowPaths {
	m := rowPaths{exact: map[string]string{}, whole: map[string]bool{}, forEach: map[string]bool{}, object: map[string]bool{}, array: map[string]bool{}, touched: map[string]bool{}}
	var walk func(rows []Row, base, prefix string, depth int)
	walk = func(rows []Row, base, prefix string, depth int) {
		if depth > MaxRowDepth {
			return
		}
		for i, r := range rows {
			if r.Target == "" {
				continue
			}
			ptr := fmt.Sprintf("%s/%d", base, i)
			path := prefix + r.Target
			if _, dup := m.exact[path]; !dup {
				m.exact[path] = ptr
				m.order = append(m.order, path)
			}
			for p := path; p != ""; p = parentPath(p) {
				m.touched[p] = true
			}
			switch {
			case r.ForEach != "" && len(r.Rows) > 0:
				m.forEach[path], m.array[path] = true, true
				walk(r.Rows, ptr+"/rows", path+"[].", depth+1)
			case r.ForEach != "":
				m.whole[path], m.array[path] = true, true
			case len(r.Rows) > 0:
				m.object[path] = true
				walk(r.Rows, ptr+"/rows", path+".", depth+1)
			default:
				m.whole[path] = true
			}
		}
	}
	walk(rows, base, "", 0)
	return m
}

// parentPath is the path a field is in: "items[].sku" → "items[]" →
// "items" → "".
func parentPath(p string) string {
	if strings.HasSuffix(p, "[]") {
		return strings.TrimSuffix(p, "[]")
	}
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[:i]
	}
	return ""
}

func lastName(p string) (string, int) {
	parts := strings.Split(p, ".")
	return parts[len(parts)-1], len(parts) - 1
}

// coverOf is the row making a whole value at or above path, if any.
func (m rowPaths) coverOf(path string) (string, bool) {
	for p := path; p != ""; p = parentPath(p) {
		if m.whole[p] {
			return m.exact[p], true
		}
	}
	return "", false
}

// facets are the checks a schema makes of a field's values.
type facets struct {
	types      []string
	multipleOf *big.Rat
	pattern    *regexp.Regexp
}

type targetWalk struct {
	root   any
	m      rowPaths
	out    []TargetField
	seen   map[string]bool
	facets map[string]facets
}

func (t *targetWalk) mark(f *TargetField) {
	if ptr, ok := t.m.exact[f.Path]; ok {
		f.Mapped, f.Row, f.ForEach = true, ptr, t.m.forEach[f.Path]
	} else if ptr, ok := t.m.coverOf(f.Path); ok {
		f.Mapped, f.Row = true, ptr
	}
	if t.m.touched[f.Path] {
		f.Mapped = true
	}
}

// present is whether the value at path is in the output: the root, the
// items of an array a for-each makes, an object a row makes (or whose
// fields rows make), or a field that must be there.
func (t *targetWalk) present(path string, expected bool) bool {
	if path == "" {
		return true
	}
	if strings.HasSuffix(path, "[]") {
		arr := strings.TrimSuffix(path, "[]")
		return t.m.forEach[arr]
	}
	return expected || t.m.touched[path]
}

// object lists the properties of the object schema sch, which sits at
// path (the root is "") and is present when parentHere.
func (t *targetWalk) object(sch any, path string, depth int, here bool) {
	node := t.resolve(sch)
	props, _ := node.get("properties").(*omap)
	if props == nil || depth > MaxSchemaDepth {
		return
	}
	required := map[string]bool{}
	if req, ok := node.get("required").([]any); ok {
		for _, r := range req {
			if s, ok := r.(string); ok {
				required[s] = true
			}
		}
	}
	for _, name := range props.keys {
		if len(t.out) >= MaxTargetFields {
			return
		}
		p := name
		if path != "" {
			p = path + "." + name
		}
		t.field(props.m[name], p, name, depth, required[name], here)
	}
}

func (t *targetWalk) field(sch any, path, name string, depth int, required, parentHere bool) {
	node := t.resolve(sch)
	f := TargetField{Path: path, Name: name, Depth: depth, Required: required, InSchema: true}
	f.Types = schemaTypes(node)
	fc := facets{types: f.Types}
	for _, ty := range f.Types {
		f.Object = f.Object || ty == "object"
		f.Array = f.Array || ty == "array"
	}
	if len(f.Types) == 0 {
		f.Object = node.get("properties") != nil
		f.Array = node.get("items") != nil
	}
	if props, ok := node.get("properties").(*omap); ok && len(props.keys) > 0 {
		f.hasFields = true
	}
	if mo, ok := node.get("multipleOf").(json.Number); ok {
		if r, ok := new(big.Rat).SetString(string(mo)); ok && r.Sign() > 0 {
			fc.multipleOf = r
		}
	}
	if pat, ok := node.get("pattern").(string); ok && len(pat) <= 1000 {
		fc.pattern, _ = regexp.Compile(pat)
	}
	f.Expected = required && parentHere
	t.mark(&f)
	t.seen[path] = true
	if t.facets == nil {
		t.facets = map[string]facets{}
	}
	t.facets[path] = fc
	t.out = append(t.out, f)
	here := t.present(path, f.Expected)
	if f.Object {
		t.object(node, path, depth+1, here)
	}
	if f.Array {
		if items := t.resolve(node.get("items")); items != nil {
			itemPath := path + "[]"
			t.seen[itemPath] = true
			t.object(items, itemPath, depth+1, t.present(itemPath, false))
		}
	}
}

// resolve follows local references ("#/$defs/address") a few levels deep.
func (t *targetWalk) resolve(sch any) *omap {
	for range 8 {
		m, ok := sch.(*omap)
		if !ok {
			return nil
		}
		ref, ok := m.get("$ref").(string)
		if !ok || !strings.HasPrefix(ref, "#/") {
			return m
		}
		cur := t.root
		for _, tok := range strings.Split(ref[2:], "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			next, ok := cur.(*omap)
			if !ok {
				return nil
			}
			cur = next.get(tok)
		}
		sch = cur
	}
	return nil
}

func schemaTypes(node *omap) []string {
	switch ty := node.get("type").(type) {
	case string:
		return []string{ty}
	case []any:
		var out []string
		for _, x := range ty {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// mismatch checks the values at f.Path in out against the schema's
// facets and describes the first that does not fit.
func mismatch(out any, f TargetField, fc facets) string {
	if len(fc.types) == 0 && fc.multipleOf == nil && fc.pattern == nil {
		return ""
	}
	for _, v := range valuesAt(out, f.Path) {
		if msg := valueProblem(v.value, fc); msg != "" {
			if v.label != f.Path {
				return v.label + ": " + msg
			}
			return msg
		}
	}
	return ""
}

type located struct {
	label string
	value any
}

// valuesAt are the values at path in v, with their output paths
// ("items[1].material"); absent fields are left out.
func valuesAt(v any, path string) []located {
	cur := []located{{label: "", value: v}}
	for _, step := range strings.Split(path, ".") {
		each := strings.HasSuffix(step, "[]")
		name := strings.TrimSuffix(step, "[]")
		var next []located
		for _, c := range cur {
			obj, ok := c.value.(*omap)
			if !ok {
				continue
			}
			val, ok := obj.m[name]
			if !ok {
				continue
			}
			label := name
			if c.label != "" {
				label = c.label + "." + name
			}
			if !each {
				next = append(next, located{label: label, value: val})
				continue
			}
			arr, _ := val.([]any)
			for i, it := range arr {
				next = append(next, located{label: label + "[" + strconv.Itoa(i) + "]", value: it})
			}
		}
		cur = next
		if len(cur) > MaxTargetFields {
			cur = cur[:MaxTargetFields]
		}
	}
	return cur
}

func valueProblem(v any, fc facets) string {
	kind := jsonKind(v)
	if len(fc.types) > 0 {
		fits := false
		for _, ty := range fc.types {
			if ty == kind || ty == "number" && kind == "integer" {
				fits = true
			}
			if ty == "integer" && kind == "number" {
				if r, ok := new(big.Rat).SetString(string(v.(json.Number))); ok && r.IsInt() {
					fits = true
				}
			}
		}
		if !fits {
			return fmt.Sprintf("%s is %s; the schema wants %s", shortJSON(v), kindWords[kind], typeWords(fc.types))
		}
	}
	if n, ok := v.(json.Number); ok && fc.multipleOf != nil {
		if r, ok := new(big.Rat).SetString(string(n)); ok && !new(big.Rat).Quo(r, fc.multipleOf).IsInt() {
			return fmt.Sprintf("%s is not a multiple of %s (the schema's decimal places)", n, fc.multipleOf.FloatString(decimals(fc.multipleOf)))
		}
	}
	if s, ok := v.(string); ok && fc.pattern != nil && !fc.pattern.MatchString(s) {
		return fmt.Sprintf("%s does not match the schema's pattern %s", shortJSON(v), fc.pattern)
	}
	return ""
}

// decimals is how many decimal places r needs (at most 12).
func decimals(r *big.Rat) int {
	for n := 0; n < 12; n++ {
		if new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil))).IsInt() {
			return n
		}
	}
	return 12
}

func jsonKind(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if strings.ContainsAny(string(t), ".eE") {
			return "number"
		}
		return "integer"
	case []any:
		return "array"
	}
	return "object"
}

var kindWords = map[string]string{"null": "null", "boolean": "true or false", "string": "text", "number": "a number", "integer": "a whole number", "array": "a list", "object": "an object"}

func typeWords(types []string) string {
	words := make([]string, len(types))
	for i, t := range types {
		words[i] = t
		if w, ok := kindWords[t]; ok {
			words[i] = w
		}
	}
	return strings.Join(words, " or ")
}

func shortJSON(v any) string {
	b, _ := json.Marshal(plain(v))
	s := string(b)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

// plain turns decoded ordered objects back into maps for encoding.
func plain(v any) any {
	switch t := v.(type) {
	case *omap:
		m := make(map[string]any, len(t.m))
		for k, x := range t.m {
			m[k] = plain(x)
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = plain(x)
		}
		return out
	}
	return v
}

// omap is a JSON object that remembers the order of its keys, so a
// schema's fields are listed as its author wrote them.
type omap struct {
	keys []string
	m    map[string]any
}

func (o *omap) get(k string) any {
	if o == nil {
		return nil
	}
	return o.m[k]
}

// decodeOrdered decodes JSON with objects as *omap and numbers as
// json.Number.
func decodeOrdered(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("unexpected text after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch d := tok.(type) {
	case json.Delim:
		switch d {
		case '{':
			o := &omap{m: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				if _, dup := o.m[k]; !dup {
					o.keys = append(o.keys, k)
				}
				o.m[k] = v
			}
			_, err := dec.Token()
			return o, err
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
	}
	return tok, nil
}
