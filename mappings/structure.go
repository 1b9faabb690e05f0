package mappings

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
)

// Structural operations of the designer: each creates one construct of the
// definition format at a JSON pointer, with placeholder content that
// compiles, so the analyst can build a whole mapping by clicks and typing.
// A pointer that does not name a place where the construct can go is a
// fault.Invalid error that says which places can.

// RowKind is the kind of mapping row AddRow creates.
type RowKind string

// Row kinds, as the definition format has them (docs/definition-format.md,
// "mapping rows").
const (
	// RowValue is a row with an expression: {"target", "expr"}.
	RowValue RowKind = "value"
	// RowConstant is a row with a constant JSON value: {"target", "value"}.
	RowConstant RowKind = "constant"
	// RowObject is a nested object built from child rows.
	RowObject RowKind = "object"
	// RowForEach is an array with one object per item of a source array,
	// built from child rows.
	RowForEach RowKind = "foreach"
	// RowArray is an array with one value per item of a source array.
	RowArray RowKind = "array"
)

// placeholderTarget is each kind's first target name; a number is added
// when a sibling already has it.
var placeholderTarget = map[RowKind]string{RowValue: "newField", RowConstant: "constant", RowObject: "newObject", RowForEach: "items", RowArray: "values"}

// AddRow inserts a new row of kind at pointer, a position in a route's
// mapping or in an object's or for-each's child rows, e.g.
// /routes/0/mapping/3 or /routes/0/mapping/2/rows/0 (the length of the
// list appends). The new row's target is unique among its siblings; a
// for-each's item name does not shadow an enclosing for-each's.
func AddRow(def *engine.Definition, pointer string, kind RowKind) (*engine.Definition, error) {
	if _, ok := placeholderTarget[kind]; !ok {
		return nil, invalid("unknown row kind “%s”: use value, constant, object, foreach or array", kind)
	}
	siblings, ancestors, err := rowSlot(def, pointer)
	if err != nil {
		return nil, err
	}
	taken := map[string]bool{}
	for _, r := range siblings {
		taken[r.Target] = true
	}
	row := engine.Row{Target: uniqueName(placeholderTarget[kind], taken)}
	itemNames := map[string]bool{"source": true}
	for _, a := range ancestors {
		if a.ForEach != "" {
			itemNames[itemName(a)] = true
		}
	}
	switch kind {
	case RowValue:
		row.Expr = "nil"
	case RowConstant:
		row.Value = json.RawMessage(`""`)
	case RowObject:
		row.Rows = []engine.Row{{Target: "field", Expr: "nil"}}
	case RowForEach:
		row.ForEach, row.As = "[]", uniqueName("item", itemNames)
		row.Rows = []engine.Row{{Target: "field", Expr: row.As}}
	case RowArray:
		row.ForEach, row.As = "[]", uniqueName("item", itemNames)
		row.Expr = row.As
	}
	return InsertAt(def, pointer, row)
}

// AddRoute inserts a new route at pointer (/routes/N; N = the number of
// routes appends) with a unique name, one placeholder row and the first
// target; a definition without targets gets a capture target for it.
func AddRoute(def *engine.Definition, pointer string) (*engine.Definition, error) {
	i, err := listSlot(pointer, "routes", len(def.Routes), true)
	if err != nil {
		return nil, err
	}
	taken := map[string]bool{}
	for _, r := range def.Routes {
		taken[r.Name] = true
	}
	route := engine.Route{Name: uniqueName("route-"+strconv.Itoa(len(def.Routes)+1), taken), Mapping: []engine.Row{{Target: "field", Expr: "nil"}}}
	if len(def.Targets) > 0 {
		route.Target = def.Targets[0].Name
	} else {
		added, err := AddTarget(def, "/targets/0")
		if err != nil {
			return nil, err
		}
		def, route.Target = added, added.Targets[0].Name
	}
	return InsertAt(def, "/routes/"+strconv.Itoa(i), route)
}

// DuplicateRoute inserts a copy of the route at pointer (/routes/N) right
// after it, named "<name>-copy" (or -copy2 …).
func DuplicateRoute(def *engine.Definition, pointer string) (*engine.Definition, error) {
	i, err := listSlot(pointer, "routes", len(def.Routes), false)
	if err != nil {
		return nil, err
	}
	taken := map[string]bool{}
	for _, r := range def.Routes {
		taken[r.Name] = true
	}
	route := def.Routes[i]
	route.Name = uniqueName(route.Name+"-copy", taken)
	return InsertAt(def, "/routes/"+strconv.Itoa(i+1), route)
}

// AddTarget inserts a capture target with a unique name at pointer
// (/targets/N; N = the number of targets appends). Its kind is edited as
// /targets/N/kind.
func AddTarget(def *engine.Definition, pointer string) (*engine.Definition, error) {
	i, err := listSlot(pointer, "targets", len(def.Targets), true)
	if err != nil {
		return nil, err
	}
	taken := map[string]bool{}
	for _, t := range def.Targets {
		taken[t.Name] = true
	}
	name := "capture"
	if len(def.Targets) > 0 {
		name = "target-" + strconv.Itoa(len(def.Targets)+1)
	}
	return InsertAt(def, "/targets/"+strconv.Itoa(i), engine.Target{Name: uniqueName(name, taken), Kind: engine.TargetCapture})
}

// WithInferredSchema returns a copy of def whose source schema is inferred
// from its samples (InferSchema).
func WithInferredSchema(def *engine.Definition) (*engine.Definition, error) {
	schema, err := InferSchema(def.Source.Samples)
	if err != nil {
		return nil, err
	}
	out, err := fromDocOf(def)
	if err != nil {
		return nil, err
	}
	out.Source.Schema = schema
	return out, nil
}

// InferSchema derives a JSON Schema (draft 2020-12) from sample payloads:
// each value's type ("integer" for whole numbers, "number" when any sample
// has a fraction; several types as a list, "null" included when a sample
// has null), an object's properties (every key any sample has) and
// required keys (those every sample has), and an array's item schema
// merged from the items of every sample (an array that is empty in every
// sample has none). The engine checks field names against properties, so
// a field no sample has must be added by hand.
func InferSchema(samples []engine.Sample) (json.RawMessage, error) {
	if len(samples) == 0 {
		return nil, invalid("there are no samples to infer a schema from: add a sample first")
	}
	root := &shape{}
	for _, s := range samples {
		v, err := decodeJSON(s.Payload)
		if err != nil {
			return nil, invalid("sample “%s” is not valid JSON: %v", s.Name, err)
		}
		root.add(v)
	}
	out := root.schema()
	out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	return json.Marshal(out)
}

// shape accumulates what the samples show of one place in the payload.
type shape struct {
	types    map[string]bool
	objects  int
	props    map[string]*shape
	order    []string
	present  map[string]int
	items    *shape
	hasItems bool
}

func (s *shape) add(v any) {
	if s.types == nil {
		s.types = map[string]bool{}
	}
	switch t := v.(type) {
	case nil:
		s.types["null"] = true
	case bool:
		s.types["boolean"] = true
	case string:
		s.types["string"] = true
	case json.Number:
		if strings.ContainsAny(string(t), ".eE") {
			s.types["number"] = true
		} else {
			s.types["integer"] = true
		}
	case []any:
		s.types["array"] = true
		if s.items == nil {
			s.items = &shape{}
		}
		for _, e := range t {
			s.items.add(e)
			s.hasItems = true
		}
	case map[string]any:
		s.types["object"] = true
		s.objects++
		if s.props == nil {
			s.props, s.present = map[string]*shape{}, map[string]int{}
		}
		for k, e := range t {
			p, ok := s.props[k]
			if !ok {
				p = &shape{}
				s.props[k] = p
				s.order = append(s.order, k)
			}
			p.add(e)
			s.present[k]++
		}
	}
}

func (s *shape) schema() map[string]any {
	out := map[string]any{}
	if s.types["integer"] && s.types["number"] {
		delete(s.types, "integer")
	}
	var types []string
	for _, t := range []string{"object", "array", "string", "number", "integer", "boolean", "null"} {
		if s.types[t] {
			types = append(types, t)
		}
	}
	switch len(types) {
	case 0:
	case 1:
		out["type"] = types[0]
	default:
		out["type"] = types
	}
	if s.props != nil {
		props := map[string]any{}
		var required []string
		for _, k := range s.order {
			props[k] = s.props[k].schema()
			if s.present[k] == s.objects {
				required = append(required, k)
			}
		}
		out["properties"] = props
		if len(required) > 0 {
			sort.Strings(required)
			out["required"] = required
		}
	}
	if s.hasItems {
		out["items"] = s.items.schema()
	}
	return out
}

// rowSlot checks that pointer names a position in a list of rows and
// returns that list and the rows enclosing it, outermost first.
func rowSlot(def *engine.Definition, pointer string) (siblings, ancestors []engine.Row, err error) {
	tokens, err := splitPointer(pointer)
	if err != nil {
		return nil, nil, err
	}
	bad := func(why string) error {
		return invalid("cannot add a row at %s: %s; a row goes at a position such as /routes/0/mapping/3 or /routes/0/mapping/2/rows/0", pointer, why)
	}
	if len(tokens) < 4 || tokens[0] != "routes" || tokens[2] != "mapping" || len(tokens)%2 != 0 {
		return nil, nil, bad("that is not a place in a mapping")
	}
	r, err := strconv.Atoi(tokens[1])
	if err != nil || r < 0 || r >= len(def.Routes) {
		return nil, nil, bad(fmt.Sprintf("the definition has no route %s", tokens[1]))
	}
	list := def.Routes[r].Mapping
	where := "/routes/" + tokens[1] + "/mapping"
	for k := 3; k < len(tokens); k += 2 {
		i, err := strconv.Atoi(tokens[k])
		if err != nil || i < 0 {
			return nil, nil, bad(fmt.Sprintf("“%s” is not a position", tokens[k]))
		}
		if k == len(tokens)-1 {
			if i > len(list) {
				return nil, nil, bad(fmt.Sprintf("%s has %d rows", where, len(list)))
			}
			return list, ancestors, nil
		}
		if tokens[k+1] != "rows" {
			return nil, nil, bad("that is not a place in a mapping")
		}
		if i >= len(list) {
			return nil, nil, bad(fmt.Sprintf("%s has no row %d", where, i))
		}
		parent := list[i]
		where += "/" + tokens[k]
		if len(parent.Rows) == 0 && (parent.Expr != "" || len(parent.Value) > 0) {
			return nil, nil, bad(fmt.Sprintf("row %s (%s) has a value of its own; only object and for-each rows hold child rows", where, parent.Target))
		}
		ancestors = append(ancestors, parent)
		list = parent.Rows
		where += "/rows"
	}
	return nil, nil, bad("that is not a place in a mapping")
}

// listSlot checks that pointer is /<list>/N with N a position in a list of
// n elements (n itself when appending is allowed).
func listSlot(pointer, list string, n int, appending bool) (int, error) {
	tokens, err := splitPointer(pointer)
	if err != nil {
		return 0, err
	}
	max := n - 1
	if appending {
		max = n
	}
	if len(tokens) != 2 || tokens[0] != list {
		return 0, invalid("%s does not name a place among the %s; use /%s/0 to /%s/%d", pointer, list, list, list, max)
	}
	i, err := strconv.Atoi(tokens[1])
	if err != nil || i < 0 || i > max {
		return 0, invalid("%s does not name a place among the %s; use /%s/0 to /%s/%d", pointer, list, list, list, max)
	}
	return i, nil
}

func itemName(r engine.Row) string {
	if r.As == "" {
		return "item"
	}
	return r.As
}

// uniqueName is base, or base2, base3 … when base is taken.
func uniqueName(base string, taken map[string]bool) string {
	if !taken[base] {
		return base
	}
	for n := 2; ; n++ {
		if name := base + strconv.Itoa(n); !taken[name] {
			return name
		}
	}
}

// fromDocOf is a deep copy of def.
func fromDocOf(def *engine.Definition) (*engine.Definition, error) {
	doc, err := toDoc(def)
	if err != nil {
		return nil, err
	}
	return fromDoc(doc, def)
}

func invalid(format string, args ...any) error {
	return &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf(format, args...)}
}
