package engine

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
)

// lookupTable is a Lookup decoded once at compile time.
type lookupTable struct {
	name       string
	entries    map[string]any
	hasDefault bool
	def        any
	// broken holds entries that are not valid JSON, and missing the
	// problem of the table's missing-key setting (CompileLenient): a
	// lookup reaching either fails with the problem.
	broken  map[string]*DisabledError
	missing *DisabledError
}

func (c *compiler) compileLookups() {
	c.lookups = map[string]*lookupTable{}
	tables := map[string]Lookup{}
	for name, l := range c.def.Lookups {
		tables[name] = l
	}
	for name, l := range c.opts.Lookups {
		tables[name] = l
	}
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		l := tables[name]
		ptr := "/lookups/" + name
		t := &lookupTable{name: name, entries: make(map[string]any, len(l.Entries))}
		keys := make([]string, 0, len(l.Entries))
		for k := range l.Entries {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var v any
			if err := json.Unmarshal(l.Entries[k], &v); err != nil {
				if t.broken == nil {
					t.broken = map[string]*DisabledError{}
				}
				t.broken[k] = c.addDisabled(location{section: SectionLookup, pointer: ptr + "/entries/" + k}, fmt.Sprintf("lookup %q entry %q is not valid JSON: %v", name, k, err))
				continue
			}
			t.entries[k] = normalizeJSON(v)
		}
		switch l.Missing {
		case "", MissingError:
			if l.Default != nil {
				t.missing = c.addDisabled(location{section: SectionLookup, pointer: ptr + "/default"}, fmt.Sprintf("lookup %q has a default but \"missing\" is not \"default\"", name))
			}
		case MissingDefault:
			if l.Default == nil {
				t.missing = c.addDisabled(location{section: SectionLookup, pointer: ptr + "/missing"}, fmt.Sprintf("lookup %q uses the default for missing keys but has no \"default\"", name))
			} else {
				var v any
				if err := json.Unmarshal(l.Default, &v); err != nil {
					t.missing = c.addDisabled(location{section: SectionLookup, pointer: ptr + "/default"}, fmt.Sprintf("lookup %q default is not valid JSON: %v", name, err))
				}
				t.hasDefault, t.def = true, normalizeJSON(v)
			}
		default:
			t.missing = c.addDisabled(location{section: SectionLookup, pointer: ptr + "/missing"}, fmt.Sprintf("lookup %q: \"missing\" must be \"error\" or \"default\"", name))
		}
		c.lookups[name] = t
	}
}

// normalizeJSON turns encoding/json's float64 integers into ints, matching
// what payload decoding produces.
func normalizeJSON(v any) any {
	switch v := v.(type) {
	case float64:
		if v == float64(int(v)) && v < 1e15 && v > -1e15 {
			return int(v)
		}
	case []any:
		for i := range v {
			v[i] = normalizeJSON(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = normalizeJSON(v[k])
		}
	}
	return v
}

// lookupKey renders a key: lookup tables are keyed by text, and store
// numbers arrive as numbers as often as strings.
func lookupKey(name string, v any) (string, error) {
	if s, ok := stringOf(v); ok {
		return s, nil
	}
	return "", argErr(name, "key must be a string or number, got %s", typeName(v))
}

func lookupFn(tables map[string]*lookupTable, args []any) (any, error) {
	if err := needArgs("lookup", args, 2, 3); err != nil {
		return nil, err
	}
	name, err := argString("lookup", args, 0)
	if err != nil {
		return nil, err
	}
	t := tables[name]
	if t == nil {
		return nil, argErr("lookup", "unknown table %q", name)
	}
	key, err := lookupKey("lookup", args[1])
	if err != nil {
		return nil, err
	}
	if v, ok := t.entries[key]; ok {
		return v, nil
	}
	if d := t.broken[key]; d != nil {
		return nil, d
	}
	if len(args) == 3 {
		return args[2], nil
	}
	if t.missing != nil {
		return nil, t.missing
	}
	if t.hasDefault {
		return t.def, nil
	}
	return nil, argErr("lookup", "table %q has no entry for %q", name, key)
}

func lookupHasFn(tables map[string]*lookupTable, args []any) (any, error) {
	if err := needArgs("lookupHas", args, 2, 2); err != nil {
		return nil, err
	}
	name, err := argString("lookupHas", args, 0)
	if err != nil {
		return nil, err
	}
	t := tables[name]
	if t == nil {
		return nil, argErr("lookupHas", "unknown table %q", name)
	}
	key, err := lookupKey("lookupHas", args[1])
	if err != nil {
		return nil, err
	}
	_, ok := t.entries[key]
	return ok || t.broken[key] != nil, nil
}

// ReadLookupCSV reads a lookup table from CSV with a header row. The first
// column is the key. With two columns each value is the second column's
// text; with more, each value is a record keyed by the header names. A
// repeated key is an error, since a cross-reference must be unambiguous.
func ReadLookupCSV(r io.Reader) (Lookup, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return Lookup{}, errors.New("lookup CSV is empty; it needs a header row")
		}
		return Lookup{}, fmt.Errorf("lookup CSV: %w", err)
	}
	if len(header) < 2 {
		return Lookup{}, errors.New("lookup CSV needs at least two columns: key and value")
	}
	l := Lookup{Entries: map[string]json.RawMessage{}}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Lookup{}, fmt.Errorf("lookup CSV: %w", err)
		}
		key := rec[0]
		if _, dup := l.Entries[key]; dup {
			line, _ := cr.FieldPos(0)
			return Lookup{}, fmt.Errorf("lookup CSV line %d: key %q appears twice", line, key)
		}
		var v any = rec[1]
		if len(header) > 2 {
			m := make(map[string]any, len(header)-1)
			for i, h := range header[1:] {
				m[h] = rec[i+1]
			}
			v = m
		}
		b, _ := appendValue(nil, v)
		l.Entries[key] = b
	}
	return l, nil
}
