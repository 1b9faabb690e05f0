package mappings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
)

// The designer edits a draft field by field. Every editable field is named
// by its JSON pointer into the definition (RFC 6901, e.g.
// /routes/0/mapping/3/expr), so one generic mechanism applies typed-in
// values and structural changes (add, remove, move) to any part of a
// definition — rows nested in objects and for-each groups included.

// Edit sets the string field at Pointer. Fields that hold JSON rather than
// text (a row's constant value, a sample payload) are parsed as JSON and a
// parse error is reported against the field. An empty value removes an
// optional field.
type Edit struct {
	Pointer string
	Value   string
}

// jsonFields are the definition fields whose form value is JSON text.
var jsonFields = map[string]bool{"value": true, "payload": true, "schema": true, "targetSchema": true, "default": true, "input": true}

// boolFields are the definition fields whose form value is a checkbox.
var boolFields = map[string]bool{"omitNull": true, "enforce": true}

// numberFields are the definition fields whose form value is a number (the
// SLA, the time budget); "sixty" gets a message about numbers, not about
// JSON.
var numberFields = map[string]string{"withinSeconds": "a whole number of seconds, e.g. 60", "objectivePercent": "a percentage, e.g. 99 or 99.9", "timeBudgetMs": "a whole number of milliseconds, e.g. 1000"}

// ApplyEdits returns a copy of def with every edit applied, in order.
func ApplyEdits(def *engine.Definition, edits []Edit) (*engine.Definition, error) {
	doc, err := toDoc(def)
	if err != nil {
		return nil, err
	}
	for _, e := range edits {
		tokens, err := splitPointer(e.Pointer)
		if err != nil {
			return nil, err
		}
		last := tokens[len(tokens)-1]
		var v any = e.Value
		if boolFields[last] {
			// A checkbox: unchecked leaves the field out (false); a hidden
			// "false" before the checkbox lets a form clear it.
			switch strings.TrimSpace(e.Value) {
			case "true", "on":
				v = true
			case "", "false":
				v = nil
			default:
				return nil, &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("%s must be true or false, not “%s”", e.Pointer, e.Value), Fields: map[string]string{e.Pointer: "must be true or false"}}
			}
		} else if want, ok := numberFields[last]; ok {
			v = nil
			if text := strings.TrimSpace(e.Value); text != "" {
				n, isNumber := decodeNumber(text)
				if !isNumber || ((last == "withinSeconds" || last == "timeBudgetMs") && strings.ContainsAny(text, ".eE")) {
					return nil, &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("%s must be %s, not “%s”", e.Pointer, want, text), Fields: map[string]string{e.Pointer: "must be " + want}}
				}
				v = n
			}
		} else if jsonFields[last] {
			if strings.TrimSpace(e.Value) == "" {
				v = nil
			} else if v, err = decodeJSON([]byte(e.Value)); err != nil {
				hint := ""
				if last == "value" {
					hint = " (a constant is JSON: text goes in double quotes, e.g. \"ZWEB\")"
				}
				return nil, &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("%s is not valid JSON: %v%s", e.Pointer, err, hint), Fields: map[string]string{e.Pointer: "not valid JSON"}}
			}
		}
		if doc, err = setAt(doc, tokens, v); err != nil {
			return nil, err
		}
	}
	// Clearing both SLA fields means "the default SLA", not an SLA of
	// zero seconds: an emptied sla object goes, and so does an emptied
	// limits object (the default time budget).
	if m, ok := doc.(map[string]any); ok {
		if sla, ok := m["sla"].(map[string]any); ok && len(sla) == 0 {
			delete(m, "sla")
		}
		if limits, ok := m["limits"].(map[string]any); ok && len(limits) == 0 {
			delete(m, "limits")
		}
	}
	return fromDoc(doc, def)
}

// InsertAt inserts item (any JSON-marshalable value, e.g. an engine.Row)
// into the array at pointer's parent, before the index pointer names; an
// index equal to the length appends.
func InsertAt(def *engine.Definition, pointer string, item any) (*engine.Definition, error) {
	return editArray(def, pointer, func(arr []any, i int) ([]any, error) {
		if i < 0 || i > len(arr) {
			return nil, fmt.Errorf("cannot insert at %s: position %d of %d", pointer, i, len(arr))
		}
		raw, err := json.Marshal(item)
		if err != nil {
			return nil, err
		}
		v, err := decodeJSON(raw)
		if err != nil {
			return nil, err
		}
		arr = append(arr, nil)
		copy(arr[i+1:], arr[i:])
		arr[i] = v
		return arr, nil
	})
}

// RemoveAt removes the array element pointer names.
func RemoveAt(def *engine.Definition, pointer string) (*engine.Definition, error) {
	return editArray(def, pointer, func(arr []any, i int) ([]any, error) {
		if i < 0 || i >= len(arr) {
			return nil, fmt.Errorf("nothing to remove at %s", pointer)
		}
		return append(arr[:i], arr[i+1:]...), nil
	})
}

// Move moves the array element pointer names by delta places (-1 up, +1
// down), staying inside the array.
func Move(def *engine.Definition, pointer string, delta int) (*engine.Definition, error) {
	return editArray(def, pointer, func(arr []any, i int) ([]any, error) {
		j := i + delta
		if i < 0 || i >= len(arr) || j < 0 || j >= len(arr) {
			return arr, nil
		}
		arr[i], arr[j] = arr[j], arr[i]
		return arr, nil
	})
}

func editArray(def *engine.Definition, pointer string, fn func([]any, int) ([]any, error)) (*engine.Definition, error) {
	doc, err := toDoc(def)
	if err != nil {
		return nil, err
	}
	tokens, err := splitPointer(pointer)
	if err != nil {
		return nil, err
	}
	idx, err := strconv.Atoi(tokens[len(tokens)-1])
	if err != nil {
		return nil, &fault.Error{Code: fault.Invalid, Message: pointer + " does not name an element of a list"}
	}
	parent := tokens[:len(tokens)-1]
	cur, _ := getAt(doc, parent)
	arr, _ := cur.([]any)
	arr, err = fn(arr, idx)
	if err != nil {
		return nil, &fault.Error{Code: fault.Invalid, Message: err.Error()}
	}
	if doc, err = setAt(doc, parent, arr); err != nil {
		return nil, err
	}
	return fromDoc(doc, def)
}

func toDoc(def *engine.Definition) (any, error) {
	raw, err := json.Marshal(def)
	if err != nil {
		return nil, err
	}
	return decodeJSON(raw)
}

// fromDoc turns an edited document back into a definition. The document
// holds objects as Go maps, which sort their keys; every embedded JSON
// value (schema, sample payloads, lookup entries, constants, test inputs
// and expectations) that the edit left equal to orig's keeps orig's bytes,
// so an edit elsewhere does not rewrite their key order — which would
// change the checksum and fill every comparison with changes nobody made.
func fromDoc(doc any, orig *engine.Definition) (*engine.Definition, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var def engine.Definition
	if err := json.Unmarshal(raw, &def); err != nil {
		return nil, &fault.Error{Code: fault.Invalid, Message: "the edited definition does not fit the format: " + err.Error()}
	}
	keepSpelling(orig, &def)
	return &def, nil
}

// keepSpelling gives each embedded JSON value of edited that equals its
// counterpart in orig (found by name, or by position for rows) orig's
// bytes.
func keepSpelling(orig, edited *engine.Definition) {
	if orig == nil {
		return
	}
	keepRaw(&edited.Source.Schema, orig.Source.Schema)
	samples := map[string]json.RawMessage{}
	for _, s := range orig.Source.Samples {
		samples[s.Name] = s.Payload
	}
	for i := range edited.Source.Samples {
		keepRaw(&edited.Source.Samples[i].Payload, samples[edited.Source.Samples[i].Name])
	}
	for name, lk := range edited.Lookups {
		o, ok := orig.Lookups[name]
		if !ok {
			continue
		}
		keepRaw(&lk.Default, o.Default)
		for k, v := range lk.Entries {
			keepRaw(&v, o.Entries[k])
			lk.Entries[k] = v
		}
		edited.Lookups[name] = lk
	}
	routes := map[string]engine.Route{}
	for _, r := range orig.Routes {
		routes[r.Name] = r
	}
	for i := range edited.Routes {
		o := routes[edited.Routes[i].Name]
		keepRaw(&edited.Routes[i].TargetSchema, o.TargetSchema)
		keepRowSpelling(o.Mapping, edited.Routes[i].Mapping)
	}
	tests := map[string]engine.TestCase{}
	for _, tc := range orig.Tests {
		tests[tc.Name] = tc
	}
	for i := range edited.Tests {
		tc := &edited.Tests[i]
		o, ok := tests[tc.Name]
		if !ok {
			continue
		}
		keepRaw(&tc.Input, o.Input)
		for route, v := range tc.Expect.Routes {
			keepRaw(&v, o.Expect.Routes[route])
			tc.Expect.Routes[route] = v
		}
	}
}

func keepRowSpelling(orig, edited []engine.Row) {
	for i := range edited {
		if i >= len(orig) {
			return
		}
		keepRaw(&edited[i].Value, orig[i].Value)
		keepRowSpelling(orig[i].Rows, edited[i].Rows)
	}
}

// keepRaw replaces *v with orig when both hold the same JSON value.
func keepRaw(v *json.RawMessage, orig json.RawMessage) {
	if len(*v) == 0 || len(orig) == 0 || bytes.Equal(*v, orig) {
		return
	}
	a, err1 := decodeJSON(*v)
	b, err2 := decodeJSON(orig)
	if err1 == nil && err2 == nil && reflect.DeepEqual(a, b) {
		*v = orig
	}
}

// decodeNumber reads a JSON number that fits a float64 (no NaN, no 1e400).
func decodeNumber(text string) (json.Number, bool) {
	v, err := decodeJSON([]byte(text))
	n, ok := v.(json.Number)
	if err != nil || !ok {
		return "", false
	}
	if _, err := n.Float64(); err != nil {
		return "", false
	}
	return n, true
}

// decodeJSON keeps numbers as written (json.Number) so that editing one
// field never changes the digits of another.
func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected text after the JSON value")
	}
	return v, nil
}

func splitPointer(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") || len(p) < 2 {
		return nil, &fault.Error{Code: fault.Invalid, Message: "“" + p + "” is not a JSON pointer such as /routes/0/mapping/1/expr"}
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(s)
	}
	return parts, nil
}

func getAt(doc any, tokens []string) (any, bool) {
	cur := doc
	for _, t := range tokens {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// setAt sets the value at tokens, creating objects on the way; nil removes
// an object member.
func setAt(doc any, tokens []string, v any) (any, error) {
	if len(tokens) == 0 {
		return v, nil
	}
	t := tokens[0]
	switch c := doc.(type) {
	case nil:
		m := map[string]any{}
		child, err := setAt(nil, tokens[1:], v)
		if err != nil {
			return nil, err
		}
		if child != nil {
			m[t] = child
		}
		return m, nil
	case map[string]any:
		child, err := setAt(c[t], tokens[1:], v)
		if err != nil {
			return nil, err
		}
		if child == nil || child == "" && len(tokens) == 1 && optionalText[t] {
			delete(c, t)
		} else {
			c[t] = child
		}
		return c, nil
	case []any:
		i, err := strconv.Atoi(t)
		if err != nil || i < 0 || i >= len(c) {
			return nil, &fault.Error{Code: fault.Invalid, Message: "the definition has no element " + t + " here; reload the designer"}
		}
		child, err := setAt(c[i], tokens[1:], v)
		if err != nil {
			return nil, err
		}
		c[i] = child
		return c, nil
	}
	return nil, &fault.Error{Code: fault.Invalid, Message: "cannot set a field inside a plain value at " + t}
}

// optionalText fields disappear when emptied, so that clearing a condition
// means "always" rather than an empty, invalid expression.
var optionalText = map[string]bool{"unmappedRequired": true, "when": true, "filter": true, "forEach": true, "as": true, "index": true, "note": true, "description": true, "idempotency": true, "correlation": true, "channel": true, "sequence": true, "sequenceMode": true, "customer": true, "amount": true}

// ValueAt returns the JSON value at pointer in def; ok is false when
// nothing is there.
func ValueAt(def *engine.Definition, pointer string) (value json.RawMessage, ok bool, err error) {
	doc, err := toDoc(def)
	if err != nil {
		return nil, false, err
	}
	tokens, err := splitPointer(pointer)
	if err != nil {
		return nil, false, err
	}
	v, found := getAt(doc, tokens)
	if !found {
		return nil, false, nil
	}
	raw, err := json.Marshal(v)
	return raw, true, err
}

// ReplaceAt sets the JSON value at pointer (any part of a definition: a
// field, a row, a whole mapping). A null or empty value removes an object
// member, so replacing with what ValueAt found absent undoes an addition.
func ReplaceAt(def *engine.Definition, pointer string, value json.RawMessage) (*engine.Definition, error) {
	doc, err := toDoc(def)
	if err != nil {
		return nil, err
	}
	tokens, err := splitPointer(pointer)
	if err != nil {
		return nil, err
	}
	var v any
	if len(bytes.TrimSpace(value)) > 0 {
		if v, err = decodeJSON(value); err != nil {
			return nil, &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("the value for %s is not valid JSON: %v", pointer, err)}
		}
	}
	if doc, err = setAt(doc, tokens, v); err != nil {
		return nil, err
	}
	return fromDoc(doc, def)
}
