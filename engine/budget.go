package engine

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr/vm/runtime"
)

// Functions that build strings or structures count what they build against
// the message's MaxWorkBytes while they build it, and notice cancellation
// and the time budget in their loops. A value built from references to one
// payload (map(1..100000, source)) is small in memory but huge once written
// out: toJSON of it ran for 10 s and took a gigabyte before these checks.

// checkEvery is how many values a writer handles between context checks.
const checkEvery = 1024

// budget bounds one write: the output may reach max bytes, and the context
// is checked every checkEvery values. A nil *budget bounds nothing.
type budget struct {
	rs *runState
	// fn names the function whose output counts against MaxWorkBytes;
	// "" for a value written into an output, a key or a trace entry,
	// bounded by MaxOutputBytes.
	fn   string
	max  int
	seen int
}

// over is the error for exceeding max.
func (b *budget) over() error {
	if b.fn != "" {
		return fmt.Errorf("%w: %s: expressions built more than %d bytes for this message", ErrLimit, b.fn, b.rs.p.opts.MaxWorkBytes)
	}
	limit := b.rs.p.opts.MaxOutputBytes
	if b.rs.route == "" {
		return fmt.Errorf("%w: a value is over %d bytes, the output limit", ErrLimit, limit)
	}
	return fmt.Errorf("%w: route %q output is over %d bytes", ErrLimit, b.rs.route, limit)
}

// workBudget bounds a function's output by what is left of the message's
// MaxWorkBytes, given the output starts at length start.
func (rs *runState) workBudget(fn string, start int) *budget {
	left := max(rs.p.opts.MaxWorkBytes-rs.work, 0)
	return &budget{rs: rs, fn: fn, max: start + left}
}

// outputBudget bounds one value written into a route's output (which
// starts at rs.buf[0]), a key or a trace entry: MaxOutputBytes. It reuses
// the run state's budget, so writing a row allocates nothing for it.
func (rs *runState) outputBudget() *budget {
	rs.out = budget{rs: rs, max: rs.p.opts.MaxOutputBytes}
	return &rs.out
}

// step is called once per value written with the output's length.
func (b *budget) step(n int) error {
	if b == nil {
		return nil
	}
	if n > b.max {
		return b.over()
	}
	b.seen++
	if b.seen%checkEvery == 0 && b.rs != nil && b.rs.ctx != nil {
		if err := b.rs.ctxErr(); err != nil {
			return err
		}
	}
	return nil
}

// appendIndented appends v as toJSON writes it: exactly what
// json.MarshalIndent(v, "", "  ") gives, but built under a budget.
// Containers are written here; every other value through encoding/json,
// which also decides what cannot be written (NaN, maps keyed by any).
func appendIndented(b []byte, v any, depth int, bud *budget) ([]byte, error) {
	if err := bud.step(len(b)); err != nil {
		return b, err
	}
	switch v := v.(type) {
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		return appendIndentedList(b, len(v), func(i int) any { return v[i] }, depth, bud)
	case map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return appendIndentedObject(b, keys, func(k string) any { return v[k] }, depth, bud)
	case string:
		return appendHTMLString(b, v), nil
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return appendMarshalled(b, v) // encoding/json's error
		}
		return appendFloat(b, v, 64)
	case json.Marshaler:
		return appendMarshalled(b, v)
	}
	rv := reflect.ValueOf(v)
	switch {
	case (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array) && rv.Type().Elem().Kind() != reflect.Uint8:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return append(b, "null"...), nil
		}
		return appendIndentedList(b, rv.Len(), func(i int) any { return rv.Index(i).Interface() }, depth, bud)
	case rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.String:
		if rv.IsNil() {
			return append(b, "null"...), nil
		}
		values := make(map[string]any, rv.Len())
		keys := make([]string, 0, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			k := it.Key().String()
			keys = append(keys, k)
			values[k] = it.Value().Interface()
		}
		sort.Strings(keys)
		return appendIndentedObject(b, keys, func(k string) any { return values[k] }, depth, bud)
	}
	return appendMarshalled(b, v)
}

func appendMarshalled(b []byte, v any) ([]byte, error) {
	m, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, m...), nil
}

func appendIndentedList(b []byte, n int, at func(int) any, depth int, bud *budget) ([]byte, error) {
	if n == 0 {
		return append(b, "[]"...), nil
	}
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendNewline(b, depth+1)
		var err error
		if b, err = appendIndented(b, at(i), depth+1, bud); err != nil {
			return b, err
		}
	}
	return append(appendNewline(b, depth), ']'), nil
}

func appendIndentedObject(b []byte, keys []string, at func(string) any, depth int, bud *budget) ([]byte, error) {
	if len(keys) == 0 {
		return append(b, "{}"...), nil
	}
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendNewline(b, depth+1)
		b = append(appendHTMLString(b, k), ": "...)
		var err error
		if b, err = appendIndented(b, at(k), depth+1, bud); err != nil {
			return b, err
		}
	}
	return append(appendNewline(b, depth), '}'), nil
}

// appendHTMLString writes s as encoding/json does by default: like
// appendString, but with <, > and & escaped and \b and \f written short.
func appendHTMLString(b []byte, s string) []byte { return appendQuoted(b, s, true) }

func appendNewline(b []byte, depth int) []byte {
	b = append(b, '\n')
	for range depth {
		b = append(b, "  "...)
	}
	return b
}

func toJSONFn(args ...any) (any, error) {
	rs, args := args[0].(*runState), args[1:]
	if err := needArgs("toJSON", args, 1, 1); err != nil {
		return nil, err
	}
	b, err := appendIndented(nil, args[0], 0, rs.workBudget("toJSON", 0))
	if err != nil {
		return nil, err
	}
	if err := rs.charge("toJSON", len(b)); err != nil {
		return nil, err
	}
	return string(b), nil
}

// stringFn is string(x): x as text, the way JSON writes it, never Go's
// formatting. A string is itself; null is "null"; true and false; numbers
// in their shortest form (1.5, 1001); a time in RFC 3339 and a duration as
// duration() reads it ("1m30s"); an array or object is its compact JSON
// (object keys sorted). The output is bounded by the run's budget as it is
// written.
func stringFn(args ...any) (any, error) {
	rs, args := args[0].(*runState), args[1:]
	if err := needArgs("string", args, 1, 1); err != nil {
		return nil, err
	}
	var s string
	switch v := args[0].(type) {
	case string:
		return v, nil
	case time.Time:
		s = v.Format(time.RFC3339Nano)
	case time.Duration:
		s = v.String()
	default:
		b, err := appendValueBudget(nil, v, rs.workBudget("string", 0))
		if err != nil {
			return nil, err
		}
		s = string(b)
	}
	if err := rs.charge("string", len(s)); err != nil {
		return nil, err
	}
	return s, nil
}

// fromJSONGrowth is what fromJSON charges per byte of its input: a decoded
// value takes up to that much memory ([0,0,…] becomes 16-byte interfaces
// holding 8-byte floats).
const fromJSONGrowth = 16

func fromJSONFn(args ...any) (any, error) {
	rs, args := args[0].(*runState), args[1:]
	if err := needArgs("fromJSON", args, 1, 1); err != nil {
		return nil, err
	}
	s, err := argString("fromJSON", args, 0)
	if err != nil {
		return nil, err
	}
	if err := rs.charge("fromJSON", len(s)*fromJSONGrowth); err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	return v, nil
}

// splitFn is split(s, sep[, n]); each part costs its string header as well
// as its bytes, so splitting into single characters is charged fairly.
func splitFn(args ...any) (any, error) {
	rs, args := args[0].(*runState), args[1:]
	if err := needArgs("split", args, 2, 3); err != nil {
		return nil, err
	}
	s, err := argString("split", args, 0)
	if err != nil {
		return nil, err
	}
	sep, err := argString("split", args, 1)
	if err != nil {
		return nil, err
	}
	n := -1
	if len(args) == 3 {
		if n, err = argInt("split", args, 2); err != nil {
			return nil, err
		}
	}
	parts := utf8.RuneCountInString(s)
	if sep != "" {
		parts = strings.Count(s, sep) + 1
	}
	if n >= 0 {
		parts = min(parts, n)
	}
	if err := rs.charge("split", len(s)+16*parts); err != nil {
		return nil, err
	}
	return strings.SplitN(s, sep, n), nil
}

func toBase64Fn(args ...any) (any, error) {
	rs, args := args[0].(*runState), args[1:]
	if err := needArgs("toBase64", args, 1, 1); err != nil {
		return nil, err
	}
	s, err := argString("toBase64", args, 0)
	if err != nil {
		return nil, err
	}
	if err := rs.charge("toBase64", base64.StdEncoding.EncodedLen(len(s))); err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

// caseFn is upper or lower. A few letters grow when their case changes
// (ɐ, two bytes, becomes Ɐ, three), so nested calls could grow a string
// without limit; each call is charged half again its input.
func caseFn(name string, conv func(string) string) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		rs, args := args[0].(*runState), args[1:]
		if err := needArgs(name, args, 1, 1); err != nil {
			return nil, err
		}
		s, err := argString(name, args, 0)
		if err != nil {
			return nil, err
		}
		if err := rs.charge(name, len(s)+len(s)/2); err != nil {
			return nil, err
		}
		return conv(s), nil
	}
}

// uniqFn is uniq(items): expr's own compares every item with every kept
// one, so uniq(1..100000) made five billion comparisons with no way to
// stop. Scalars are found through a map; other items (objects, arrays)
// are compared as before, each comparison counted as a step.
func uniqFn(args ...any) (any, error) {
	rs, args := args[0].(*runState), args[1:]
	if err := needArgs("uniq", args, 1, 1); err != nil {
		return nil, err
	}
	items, ok := asSlice(args[0])
	if !ok {
		return nil, argErr("uniq", "argument 1 must be an array, got %s", typeName(args[0]))
	}
	out := []any{}
	seen := map[any]bool{}
	var others []any
	for i, it := range items {
		if i%checkEvery == checkEvery-1 {
			if err := rs.ctxErr(); err != nil {
				return nil, err
			}
		}
		if k, ok := uniqKey(it); ok {
			if !seen[k] {
				seen[k] = true
				out = append(out, it)
			}
			continue
		}
		dup := false
		for _, o := range others {
			if err := rs.tick(); err != nil {
				return nil, err
			}
			if runtime.Equal(it, o) {
				dup = true
				break
			}
		}
		if !dup {
			others = append(others, it)
			out = append(out, it)
		}
	}
	return out, nil
}

type floatKey struct{ f float64 }

// uniqKey gives scalars a map key under which values expr's == calls equal
// meet: 1 and 1.0 are the same number.
func uniqKey(v any) (any, bool) {
	switch v := v.(type) {
	case nil, string, bool:
		return v, true
	case int:
		if f := float64(v); int(f) == v {
			return floatKey{f}, true
		}
		return v, true
	case int64:
		if f := float64(v); int64(f) == v {
			return floatKey{f}, true
		}
		return v, true
	case float64:
		if math.IsNaN(v) {
			return nil, false
		}
		return floatKey{v}, true
	}
	return nil, false
}
