package mappings

import (
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/crossdock/crossdock/engine"
)

// Patch is one change to a definition at a JSON pointer, in the words of
// JSON Patch (RFC 6902) where they exist: insert, remove, replace; the
// designer adds up, down and batch (Value holding a list of patches).
type Patch struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

// Changes describes how after differs from before as primitive patches,
// one for each top-level member that changed (a route added with the
// target it needs is two): the deepest place where they differ, as an
// insert or remove when a list gained or lost one element and as a
// replace otherwise. None when they are equal.
func Changes(before, after *engine.Definition) ([]Patch, error) {
	a, err := toDoc(before)
	if err != nil {
		return nil, err
	}
	b, err := toDoc(after)
	if err != nil {
		return nil, err
	}
	am, bm := a.(map[string]any), b.(map[string]any)
	var out []Patch
	for _, k := range unionKeys(am, bm) {
		if p, changed := docDiff("/"+escapePointer(k), am[k], bm[k]); changed {
			out = append(out, p)
		}
	}
	return out, nil
}

// docDiff describes how b differs from a, both at ptr.
func docDiff(ptr string, a, b any) (Patch, bool) {
	if reflect.DeepEqual(a, b) {
		return Patch{}, false
	}
	replace := func() (Patch, bool) {
		raw, _ := json.Marshal(b)
		if b == nil {
			raw = nil // an absent member: ReplaceAt leaves it out
		}
		return Patch{Op: "replace", Path: ptr, Value: raw}, true
	}
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return replace()
		}
		var only string
		n := 0
		for _, k := range unionKeys(av, bv) {
			if !reflect.DeepEqual(av[k], bv[k]) {
				only, n = k, n+1
			}
		}
		if n == 1 {
			return docDiff(ptr+"/"+escapePointer(only), av[only], bv[only])
		}
	case []any:
		bv, ok := b.([]any)
		if !ok {
			return replace()
		}
		switch len(bv) - len(av) {
		case 0:
			diff := -1
			for i := range av {
				if !reflect.DeepEqual(av[i], bv[i]) {
					if diff >= 0 {
						return replace()
					}
					diff = i
				}
			}
			return docDiff(ptr+"/"+strconv.Itoa(diff), av[diff], bv[diff])
		case 1:
			if i, ok := oneMore(av, bv); ok {
				raw, _ := json.Marshal(bv[i])
				return Patch{Op: "insert", Path: ptr + "/" + strconv.Itoa(i), Value: raw}, true
			}
		case -1:
			if i, ok := oneMore(bv, av); ok {
				return Patch{Op: "remove", Path: ptr + "/" + strconv.Itoa(i)}, true
			}
		}
	}
	return replace()
}

// oneMore finds the element of long whose removal leaves short.
func oneMore(short, long []any) (int, bool) {
	i := 0
	for i < len(short) && reflect.DeepEqual(short[i], long[i]) {
		i++
	}
	return i, reflect.DeepEqual(short[i:], long[i+1:])
}

func unionKeys(a, b map[string]any) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
