package mappings

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/crossdock/crossdock/engine"
)

// The designer's two panes: a source field picked on the left and a
// destination field picked on the right make or update the row between
// them. Both are paths: source paths start at "source" and destination
// paths at the route's output, names separated by dots and the items of
// an array written "[]" — "source.lines[].sku" → "items[].material".

// MapField makes the row at target (a destination path) of the route at
// routePointer (/routes/N) take the source field at source: the row that
// is there gets the source as its expression (a constant becomes an
// expression), otherwise a new row goes at the end of the rows that hold
// target — the object or for-each making its parent, or the route's
// mapping. A source inside an array is read through the item name of the
// for-each over that array that encloses target. An empty source makes a
// placeholder row (nil) to fill in.
func MapField(def *engine.Definition, routePointer, source, target string) (*engine.Definition, error) {
	r, err := listSlot(routePointer, "routes", len(def.Routes), false)
	if err != nil {
		return nil, err
	}
	if err := checkTargetPath(target); err != nil {
		return nil, err
	}
	rows := rowSlots(def.Routes[r].Mapping, routePointer+"/mapping")
	if s, ok := rows.byPath[target]; ok {
		if s.container() {
			return nil, invalid("%s is made by a %s of child rows; pick a field inside it", target, s.kind())
		}
		expr, err := sourceExpr(source, s.enclosing)
		if err != nil {
			return nil, err
		}
		row := s.row
		// An array of values takes it as its items' expression.
		row.Expr, row.Value = expr, nil
		return ReplaceAt(def, s.pointer, mustJSON(row))
	}
	at, rel, enclosing, err := rows.placeFor(target)
	if err != nil {
		return nil, err
	}
	expr, err := sourceExpr(source, enclosing)
	if err != nil {
		return nil, err
	}
	return InsertAt(def, at, engine.Row{Target: rel, Expr: expr})
}

// MapEach makes the array at target (a destination path) of the route at
// routePointer a for-each over the source array at source: the for-each
// there, if any, takes the new array expression; otherwise a new for-each
// row goes where MapField would put a row. An empty source makes a
// placeholder for-each (over []) to fill in. Its item name comes from the
// source array's name ("lines" → line). itemFields are the names of the
// source items' fields: each destination item field of the same name in
// the route's target schema gets a child row reading it; with none, the
// block starts with one placeholder row.
func MapEach(def *engine.Definition, routePointer, source, target string, itemFields []string) (*engine.Definition, error) {
	r, err := listSlot(routePointer, "routes", len(def.Routes), false)
	if err != nil {
		return nil, err
	}
	if err := checkTargetPath(target); err != nil {
		return nil, err
	}
	if strings.HasSuffix(source, "[]") || strings.HasSuffix(target, "[]") {
		return nil, invalid("map each goes from a list to a list: pick the lists themselves (source.lines → items), not their items")
	}
	route := def.Routes[r]
	rows := rowSlots(route.Mapping, routePointer+"/mapping")
	listExpr := func(enclosing []forEachScope) (string, error) {
		if source == "" {
			return "[]", nil
		}
		return sourceExpr(source, enclosing)
	}
	if s, ok := rows.byPath[target]; ok {
		arrayExpr, err := listExpr(s.enclosing)
		if err != nil {
			return nil, err
		}
		if s.row.ForEach != "" && len(s.row.Rows) > 0 {
			return ReplaceAt(def, s.pointer+"/forEach", mustJSON(arrayExpr))
		}
		block := forEachBlock(target, arrayExpr, source, s.enclosing, route, itemFields)
		block.Target = s.row.Target
		return ReplaceAt(def, s.pointer, mustJSON(block))
	}
	at, rel, enclosing, err := rows.placeFor(target)
	if err != nil {
		return nil, err
	}
	arrayExpr, err := listExpr(enclosing)
	if err != nil {
		return nil, err
	}
	block := forEachBlock(target, arrayExpr, source, enclosing, route, itemFields)
	block.Target = rel
	return InsertAt(def, at, block)
}

// forEachBlock is a for-each row over arrayExpr with child rows for the
// item fields the source and the target schema share.
func forEachBlock(target, arrayExpr, source string, enclosing []forEachScope, route engine.Route, itemFields []string) engine.Row {
	taken := map[string]bool{"source": true}
	for _, e := range enclosing {
		taken[e.item] = true
	}
	block := engine.Row{ForEach: arrayExpr, As: itemNameFor(source, taken)}
	have := map[string]bool{}
	for _, f := range itemFields {
		have[f] = true
	}
	var wanted []string
	first, firstRequired := "", false
	if fields, err := engine.TargetTree(route.TargetSchema, nil, "", nil); err == nil && len(route.TargetSchema) > 0 {
		prefix := target + "[]."
		for _, f := range fields {
			if !f.InSchema || !strings.HasPrefix(f.Path, prefix) || strings.Contains(f.Path[len(prefix):], ".") {
				continue
			}
			if have[f.Name] {
				wanted = append(wanted, f.Name)
			}
			if first == "" || f.Required && !firstRequired {
				first, firstRequired = f.Name, f.Required
			}
		}
	}
	for _, name := range wanted {
		block.Rows = append(block.Rows, engine.Row{Target: name, Expr: block.As + accessor(name)})
	}
	if len(block.Rows) == 0 {
		if first == "" {
			first = "field"
		}
		block.Rows = []engine.Row{{Target: first, Expr: "nil"}}
	}
	return block
}

// WithInferredTargetSchema returns a copy of def whose route at
// routePointer has a target schema inferred from an example output (as
// InferSchema infers one from samples).
func WithInferredTargetSchema(def *engine.Definition, routePointer string, example json.RawMessage) (*engine.Definition, error) {
	r, err := listSlot(routePointer, "routes", len(def.Routes), false)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(example))) == 0 {
		return nil, invalid("paste an example output (JSON) of route %s first", def.Routes[r].Name)
	}
	v, err := decodeJSON(example)
	if err != nil {
		return nil, invalid("the example output is not valid JSON: %v", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, invalid("the example output must be a JSON object, such as {\"orderType\": \"ZWEB\"}")
	}
	schema, err := InferSchema([]engine.Sample{{Name: "example output", Payload: example}})
	if err != nil {
		return nil, err
	}
	out, err := fromDocOf(def)
	if err != nil {
		return nil, err
	}
	out.Routes[r].TargetSchema = schema
	return out, nil
}

// forEachScope is a for-each enclosing a place in a mapping: the source
// array expression it runs over and its item name.
type forEachScope struct {
	array string
	item  string
}

// rowSlot is one row of a route's mapping with its output path.
type slot struct {
	pointer   string
	row       engine.Row
	enclosing []forEachScope // the for-eachs around the row, outermost first
}

func (s slot) container() bool { return len(s.row.Rows) > 0 }

func (s slot) kind() string {
	if s.row.ForEach != "" {
		return "for-each"
	}
	return "object"
}

type slots struct {
	mapping string // the route's mapping pointer
	count   int    // rows in the route's mapping
	byPath  map[string]slot
}

func rowSlots(rows []engine.Row, base string) slots {
	s := slots{mapping: base, count: len(rows), byPath: map[string]slot{}}
	var walk func(rows []engine.Row, base, prefix string, enclosing []forEachScope, depth int)
	walk = func(rows []engine.Row, base, prefix string, enclosing []forEachScope, depth int) {
		if depth > engine.MaxRowDepth {
			return
		}
		for i, r := range rows {
			ptr := fmt.Sprintf("%s/%d", base, i)
			path := prefix + r.Target
			if _, dup := s.byPath[path]; !dup && r.Target != "" {
				s.byPath[path] = slot{pointer: ptr, row: r, enclosing: enclosing}
			}
			switch {
			case r.ForEach != "" && len(r.Rows) > 0:
				inner := append(append([]forEachScope(nil), enclosing...), forEachScope{array: strings.TrimSpace(r.ForEach), item: itemName(r)})
				walk(r.Rows, ptr+"/rows", path+"[].", inner, depth+1)
			case len(r.Rows) > 0:
				walk(r.Rows, ptr+"/rows", path+".", enclosing, depth+1)
			}
		}
	}
	walk(rows, base, "", nil, 0)
	return s
}

// placeFor finds where a new row for target goes: the pointer to insert
// at, its target relative to the rows there, and the for-eachs around it.
func (s slots) placeFor(target string) (at, rel string, enclosing []forEachScope, err error) {
	for p := parentOf(target); p != ""; p = parentOf(p) {
		if strings.HasSuffix(p, "[]") {
			list := strings.TrimSuffix(p, "[]")
			c, ok := s.byPath[list]
			if !ok || c.row.ForEach == "" || len(c.row.Rows) == 0 {
				return "", "", nil, invalid("%s is a field of each item of the list %s: first pick a source list and “map each” onto %s", target, list, list)
			}
			inner := append(append([]forEachScope(nil), c.enclosing...), forEachScope{array: strings.TrimSpace(c.row.ForEach), item: itemName(c.row)})
			return fmt.Sprintf("%s/rows/%d", c.pointer, len(c.row.Rows)), target[len(p)+1:], inner, nil
		}
		if c, ok := s.byPath[p]; ok {
			if !c.container() {
				return "", "", nil, invalid("%s is inside %s, which row %s makes as one value; change that row into an object, or map %s itself", target, p, c.pointer, p)
			}
			return fmt.Sprintf("%s/rows/%d", c.pointer, len(c.row.Rows)), target[len(p)+1:], c.enclosing, nil
		}
	}
	return fmt.Sprintf("%s/%d", s.mapping, s.count), target, nil, nil
}

// parentOf is the path a destination field is in: "items[].sku" →
// "items[]" → "items" → "".
func parentOf(p string) string {
	if strings.HasSuffix(p, "[]") {
		return strings.TrimSuffix(p, "[]")
	}
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[:i]
	}
	return ""
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func checkTargetPath(target string) error {
	if target == "" {
		return invalid("choose a destination field")
	}
	for _, part := range strings.Split(target, ".") {
		name := strings.TrimSuffix(part, "[]")
		if name == "" || strings.ContainsAny(name, "[]") {
			return invalid("“%s” is not a destination path; a path is names separated by dots, with [] after a list, such as items[].material", target)
		}
	}
	return nil
}

// sourceExpr is the expression reading the source field at path from a
// place inside the for-eachs enclosing: each list on the way must be one
// an enclosing for-each runs over, whose item name then reads it.
func sourceExpr(path string, enclosing []forEachScope) (string, error) {
	if path == "" {
		return "nil", nil
	}
	parts := strings.Split(path, ".")
	if parts[0] != "source" {
		return "", invalid("“%s” is not a source path; a source path starts with source, such as source.customer.email", path)
	}
	expr := "source"
	for i, part := range parts[1:] {
		name := strings.TrimSuffix(part, "[]")
		if name == "" || strings.ContainsAny(name, "[]") {
			return "", invalid("“%s” is not a source path; a source path is names separated by dots, with [] after a list, such as source.lines[].sku", path)
		}
		expr += accessor(name)
		if !strings.HasSuffix(part, "[]") {
			continue
		}
		if i == len(parts)-2 {
			return "", invalid("%s are the items of a list: pick one of their fields, or use “map each” with the list", path)
		}
		found := false
		for k := len(enclosing) - 1; k >= 0; k-- {
			if enclosing[k].array == expr || enclosing[k].array == expr+" ?? []" {
				expr, found = enclosing[k].item, true
				break
			}
		}
		if !found {
			return "", invalid("%s is a field of each item of %s: first use “map each” from %s onto a list in the destination, then pick the field inside it", path, expr, expr)
		}
	}
	return expr, nil
}

// accessor reads a field: .name, or ["name"] for a name that is not an
// identifier.
func accessor(name string) string {
	if identifier.MatchString(name) {
		return "." + name
	}
	q, _ := json.Marshal(name)
	return "[" + string(q) + "]"
}

// reservedNames are words an item name must not take: expr's keywords and
// built-ins, and the engine's functions.
var reservedNames = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range []string{"in", "not", "and", "or", "let", "if", "else", "nil", "true", "false", "matches", "contains", "startsWith", "endsWith", "env", "source", "response", "steps"} {
		m[w] = true
	}
	for _, fn := range engine.Functions() {
		m[fn.Name] = true
	}
	return m
}()

// itemNameFor names the items of a source list: "source.lines" → line,
// or item when the singular is taken or reserved.
func itemNameFor(source string, taken map[string]bool) string {
	name := source[strings.LastIndex(source, ".")+1:]
	if strings.HasSuffix(name, "s") && !strings.HasSuffix(name, "ss") && len(name) > 2 {
		name = strings.TrimSuffix(name, "s")
	} else {
		name = "item"
	}
	if !identifier.MatchString(name) || reservedNames[name] || taken[name] {
		name = "item"
	}
	return uniqueName(name, taken)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // rows and strings always encode
	}
	return b
}
