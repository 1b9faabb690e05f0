package engine

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/valyala/fastjson"
)

// projection is the set of payload paths some expression can reach. Only
// those are turned into Go values; for a 2 KB order whose mapping reads a
// few dozen fields this skips most of the allocation a full decode costs.
// "*" stands for every element of an array.
type projection struct {
	root *pnode
}

type pnode struct {
	name string // the key this node is under, reused for the decoded map
	full bool   // decode the whole subtree
	keys map[string]*pnode
	elem *pnode
}

func newProjection() *projection { return &projection{root: &pnode{}} }

// all makes the projection decode the whole payload.
func (p *projection) all() { p.root.full = true }

// ensure makes the path exist without asking for its whole subtree.
func (p *projection) ensure(path []string) *pnode {
	n := p.root
	for _, step := range path {
		if n.full {
			return n
		}
		if step == "*" {
			if n.elem == nil {
				n.elem = &pnode{}
			}
			n = n.elem
			continue
		}
		if n.keys == nil {
			n.keys = map[string]*pnode{}
		}
		c := n.keys[step]
		if c == nil {
			c = &pnode{name: step}
			n.keys[step] = c
		}
		n = c
	}
	return n
}

// need asks for the whole subtree at path.
func (p *projection) need(path []string) { p.ensure(path).full = true }

// MaxDepth is how deeply arrays and objects may nest in a payload: the
// parser's own limit (fastjson.MaxDepth, 300). Run refuses a deeper payload
// with ErrInvalidInput, naming the depth; intake refuses it at the door
// (jobs.CheckJSON) rather than record a message that can never be mapped.
const MaxDepth = fastjson.MaxDepth

// PayloadDepth returns how deeply arrays and objects nest in payload,
// counting brackets outside strings. It does not validate the document, so
// it is safe on any bytes and costs one pass.
func PayloadDepth(payload []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, b := range payload {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '[' || b == '{':
			depth++
			deepest = max(deepest, depth)
		case b == ']' || b == '}':
			depth--
		}
	}
	return deepest
}

// decode parses payload and converts the projected parts to Go values:
// objects to map[string]any, arrays to []any, integers that fit to int,
// other numbers to float64.
func (p *projection) decode(d *decoder, payload []byte) (any, error) {
	v, err := d.parser.ParseBytes(payload)
	if err != nil {
		// fastjson's own error for this is a chain of "cannot parse
		// array: cannot parse array value: …" 300 links long.
		if depth := PayloadDepth(payload); depth > MaxDepth {
			return nil, fmt.Errorf("%w: arrays and objects nest %d levels deep; at most %d are allowed", ErrInvalidInput, depth, MaxDepth)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	return d.convert(v, p.root)
}

// decoder is a run's parser plus an intern table for object keys: the
// same few dozen keys repeat in every message, and allocating a string for
// each occurrence costs about a fifth of decoding time.
type decoder struct {
	parser fastjson.Parser
	keys   map[string]string
}

const maxInternedKeys = 4096

func (d *decoder) key(k []byte) string {
	if s, ok := d.keys[string(k)]; ok {
		return s
	}
	s := string(k)
	if d.keys == nil {
		d.keys = make(map[string]string, 64)
	}
	if len(d.keys) < maxInternedKeys {
		d.keys[s] = s
	}
	return s
}

func (d *decoder) convert(v *fastjson.Value, p *pnode) (any, error) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		if p.full {
			m := make(map[string]any, o.Len())
			var err error
			o.Visit(func(k []byte, vv *fastjson.Value) {
				if err != nil {
					return
				}
				var x any
				x, err = d.convert(vv, p)
				m[d.key(k)] = x
			})
			return m, err
		}
		m := make(map[string]any, len(p.keys))
		if len(p.keys) == 0 {
			return m, nil
		}
		var err error
		o.Visit(func(k []byte, vv *fastjson.Value) {
			if err != nil {
				return
			}
			c := p.keys[string(k)]
			if c == nil {
				return
			}
			var x any
			x, err = d.convert(vv, c)
			m[c.name] = x
		})
		return m, err
	case fastjson.TypeArray:
		a, _ := v.Array()
		out := make([]any, len(a))
		elem := p
		if !p.full {
			elem = p.elem
		}
		if elem == nil {
			return out, nil
		}
		for i, e := range a {
			x, err := d.convert(e, elem)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case fastjson.TypeString:
		return string(v.GetStringBytes()), nil
	case fastjson.TypeNumber:
		return parseNumber(v.String())
	case fastjson.TypeTrue:
		return true, nil
	case fastjson.TypeFalse:
		return false, nil
	default:
		return nil, nil
	}
}

// parseNumber keeps integers exact (order ids beyond 2^53 survive) and
// gives every other number as float64.
func parseNumber(s string) (any, error) {
	integral := true
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.', 'e', 'E':
			integral = false
		}
	}
	if integral {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return int(n), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if errors.Is(err, strconv.ErrRange) {
		// 1e400 is valid JSON but no float64 holds it.
		return nil, fmt.Errorf("%w: the number %.40s is too large (numbers must be within ±1.7976931348623157e308)", ErrInvalidInput, s)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: bad number %q", ErrInvalidInput, s)
	}
	return f, nil
}
