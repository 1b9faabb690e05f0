package format

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkName says what is wrong with name as an XML element or attribute
// name: a name (letters, digits, _, -, .; not starting with a digit, -
// or .) with at most one prefix before a colon.
func checkName(name string) error {
	if name == "" {
		return errors.New("an XML name cannot be empty")
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("“%s…” is longer than %d bytes, too long for an XML name", name[:20], MaxNameLength)
	}
	parts := strings.Split(name, ":")
	if len(parts) > 2 {
		return fmt.Errorf("“%s” is not an XML name: it has more than one colon (a name is prefix:local at most)", name)
	}
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("“%s” is not an XML name: a colon must stand between a prefix and a local name", name)
		}
		for i, r := range p {
			if i == 0 && !nameStart(r) {
				return fmt.Errorf("“%s” is not an XML name: it cannot start with %q (start with a letter or _)", name, r)
			}
			if !nameStart(r) && !nameChar(r) {
				return fmt.Errorf("“%s” is not an XML name: %q is not allowed in one (use letters, digits, _, - and .)", name, r)
			}
		}
	}
	return nil
}

func nameStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }

func nameChar(r rune) bool {
	return r == '-' || r == '.' || r == '·' || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
}

// xmlChar says whether r may appear in an XML 1.0 document.
func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// xmlWriter writes one document.
type xmlWriter struct {
	b bytes.Buffer
}

// encodeXML writes v as a document whose root element is spec.Root.
func encodeXML(spec XMLSpec, v any) ([]byte, error) {
	w := &xmlWriter{}
	w.b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	var attrs []member
	if spec.Namespace != "" {
		attrs = append(attrs, member{key: "@xmlns", value: spec.Namespace})
	}
	switch v.(type) {
	case []any:
		return nil, &EncodeError{Message: "the output is an array, and an XML document has one root element: map the array into a field of an object (its items become repeated elements)"}
	}
	if err := w.element(spec.Root, "", v, attrs, 0); err != nil {
		return nil, err
	}
	w.b.WriteByte('\n')
	return w.b.Bytes(), nil
}

// element writes <name> holding v at path, with extra attributes first
// (the root's namespace).
func (w *xmlWriter) element(name, path string, v any, extra []member, depth int) error {
	if err := checkName(name); err != nil {
		return &EncodeError{Path: path, Message: err.Error()}
	}
	w.indent(depth)
	w.b.WriteString("<" + name)
	obj, isObj := v.(object)
	for _, m := range extra {
		if err := w.attr(m.key[1:], path, m.value); err != nil {
			return err
		}
	}
	// Attributes first, then text, then child elements.
	var text any
	hasText, children := false, 0
	for _, m := range obj {
		switch {
		case strings.HasPrefix(m.key, "@"):
			if err := w.attr(m.key[1:], childPath(path, m.key), m.value); err != nil {
				return err
			}
		case m.key == "#text":
			text, hasText = m.value, true
		default:
			children++
		}
	}
	if !isObj {
		text, hasText = v, v != nil
	}
	if !hasText && children == 0 {
		w.b.WriteString("/>")
		return nil
	}
	w.b.WriteByte('>')
	if hasText {
		p := path
		if isObj {
			p = childPath(path, "#text")
		}
		if err := w.text(p, text); err != nil {
			return err
		}
	}
	if children > 0 {
		// An element with text keeps its children on its line: indenting
		// them would add whitespace to its text.
		childDepth := depth + 1
		if hasText {
			childDepth = -1
		}
		for _, m := range obj {
			if strings.HasPrefix(m.key, "@") || m.key == "#text" {
				continue
			}
			p := childPath(path, m.key)
			if items, ok := m.value.([]any); ok {
				for i, item := range items {
					if _, nested := item.([]any); nested {
						return &EncodeError{Path: indexPath(p, i), Message: "an array directly inside an array has no element name in XML: wrap the inner array in an object"}
					}
					if err := w.element(m.key, indexPath(p, i), item, nil, childDepth); err != nil {
						return err
					}
				}
				continue
			}
			if err := w.element(m.key, p, m.value, nil, childDepth); err != nil {
				return err
			}
		}
		if !hasText {
			w.indent(depth)
		}
	}
	w.b.WriteString("</" + name + ">")
	return nil
}

// indent starts a line at depth; a negative depth writes inline.
func (w *xmlWriter) indent(depth int) {
	if depth < 0 {
		return
	}
	if w.b.Len() > 0 && w.b.Bytes()[w.b.Len()-1] != '\n' {
		w.b.WriteByte('\n')
	}
	for range depth {
		w.b.WriteString("  ")
	}
}

func (w *xmlWriter) attr(name, path string, v any) error {
	if err := checkName(name); err != nil {
		return &EncodeError{Path: path, Message: err.Error()}
	}
	if v == nil {
		return nil // a null attribute is left out
	}
	s, err := scalarText(path, v, "an attribute")
	if err != nil {
		return err
	}
	w.b.WriteString(" " + name + `="`)
	if err := escapeXML(&w.b, path, s, true); err != nil {
		return err
	}
	w.b.WriteByte('"')
	return nil
}

func (w *xmlWriter) text(path string, v any) error {
	if v == nil {
		return nil
	}
	s, err := scalarText(path, v, "text")
	if err != nil {
		return err
	}
	return escapeXML(&w.b, path, s, false)
}

// scalarText is v as XML text; objects and arrays cannot be.
func scalarText(path string, v any, what string) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		if v {
			return "true", nil
		}
		return "false", nil
	}
	return "", &EncodeError{Path: path, Message: fmt.Sprintf("%s is %s, but XML %s holds text, a number or a boolean", path, typeOf(v), what)}
}

// escapeXML writes s escaped; in attributes also quotes and line breaks,
// so they survive attribute-value normalization. A character XML 1.0
// cannot carry (a control character) is an error: replacing it would
// change the data silently.
func escapeXML(b *bytes.Buffer, path, s string, attr bool) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return &EncodeError{Path: path, Message: "is not valid UTF-8"}
			}
		}
		if !xmlChar(r) {
			return &EncodeError{Path: path, Message: fmt.Sprintf("holds the character U+%04X, which XML 1.0 cannot carry", r)}
		}
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '\r':
			b.WriteString("&#xD;")
		case attr && r == '"':
			b.WriteString("&quot;")
		case attr && r == '\n':
			b.WriteString("&#xA;")
		case attr && r == '\t':
			b.WriteString("&#x9;")
		default:
			b.WriteRune(r)
		}
	}
	return nil
}

// Limits on an XML body read in, on top of the size limit the caller
// applies before parsing.
const (
	MaxXMLDepth    = 64
	MaxXMLElements = 100_000
)

// ErrDoctype is the refusal of a document that declares a DTD: entities
// it declares could expand without bound or read files, so no DOCTYPE is
// accepted at all.
var ErrDoctype = errors.New("the XML body declares a DOCTYPE; Crossdock does not accept DTDs or entity declarations (they could expand without bound or read files): send the document without its <!DOCTYPE …>")

// DecodeXML reads an XML document into the structure a JSON body has,
// by the convention of the output format: the root element's content is
// the value; child elements are keys (their local names, without
// namespace), repeated ones an array; attributes are @name keys (namespace
// declarations left out); text is the element's string value, or its
// #text key when it also has attributes or children. Every value is a
// string. It returns the value as JSON, keys in document order. A DOCTYPE
// is ErrDoctype; deeper than MaxXMLDepth or more than MaxXMLElements
// elements is an error, checked as the document is read.
func DecodeXML(data []byte) ([]byte, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true // unknown entities are errors; none is ever looked up
	var root *xmlNode
	var stack []*xmlNode
	elements := 0
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the XML body is not well-formed: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			// <!DOCTYPE …> and anything else of a DTD.
			return nil, ErrDoctype
		case xml.StartElement:
			elements++
			if elements > MaxXMLElements {
				return nil, fmt.Errorf("the XML body has more than %d elements; split it into smaller documents", MaxXMLElements)
			}
			if len(stack) >= MaxXMLDepth {
				return nil, fmt.Errorf("the XML body nests elements more than %d levels deep, more than Crossdock reads", MaxXMLDepth)
			}
			if len(stack) == 0 && root != nil {
				return nil, errors.New("the XML body has more than one root element")
			}
			n := &xmlNode{name: t.Name.Local, raw: rawName(t.Name)}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
					continue // namespace declarations are not data
				}
				n.obj = append(n.obj, member{key: "@" + a.Name.Local, value: a.Value})
			}
			if len(stack) > 0 {
				stack[len(stack)-1].add(t.Name.Local, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, fmt.Errorf("the XML body closes </%s> that was never opened", t.Name.Local)
			}
			if top := stack[len(stack)-1]; top.raw != rawName(t.Name) {
				return nil, fmt.Errorf("the XML body closes <%s> with </%s>", top.raw, rawName(t.Name))
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) != 0 {
				return nil, errors.New("the XML body has text outside its root element")
			}
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("the XML body ends before <%s> is closed", stack[len(stack)-1].name)
	}
	if root == nil {
		return nil, errors.New("the XML body has no root element")
	}
	var b bytes.Buffer
	writeJSON(&b, root.value())
	return b.Bytes(), nil
}

// xmlNode is an element being read.
type xmlNode struct {
	name string
	raw  string // prefix:local as written, to match its end tag
	obj  object
	text strings.Builder
	// kids holds each child name's nodes, to turn repeats into arrays.
	kids map[string][]*xmlNode
	has  bool // has child elements
}

func (n *xmlNode) add(name string, c *xmlNode) {
	if n.kids == nil {
		n.kids = map[string][]*xmlNode{}
	}
	if _, seen := n.kids[name]; !seen {
		n.obj = append(n.obj, member{key: name, value: name}) // placeholder, filled in by value
	}
	n.kids[name] = append(n.kids[name], c)
	n.has = true
}

// value is the node as a JSON value.
func (n *xmlNode) value() any {
	text := n.text.String()
	if len(n.obj) == 0 {
		return text
	}
	out := make(object, 0, len(n.obj)+1)
	for _, m := range n.obj {
		if strings.HasPrefix(m.key, "@") {
			out = append(out, m)
			continue
		}
		kids := n.kids[m.key]
		if len(kids) == 1 {
			out = append(out, member{key: m.key, value: kids[0].value()})
			continue
		}
		items := make([]any, len(kids))
		for i, k := range kids {
			items[i] = k.value()
		}
		out = append(out, member{key: m.key, value: items})
	}
	// Whitespace between child elements is layout, not text.
	if t := text; !n.has || strings.TrimSpace(t) != "" {
		if n.has {
			t = strings.TrimSpace(t)
		}
		if t != "" || !n.has {
			out = append(out, member{key: "#text", value: t})
		}
	}
	return out
}

// writeJSON writes v (object, []any, string) as JSON.
func writeJSON(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case object:
		b.WriteByte('{')
		for i, m := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, m.key)
			b.WriteByte(':')
			writeJSON(b, m.value)
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, e)
		}
		b.WriteByte(']')
	case string:
		writeString(b, v)
	}
}

func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Truncate(b.Len() - 1)
}

// rawName is a name as written (RawToken leaves the prefix in Space).
func rawName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}
