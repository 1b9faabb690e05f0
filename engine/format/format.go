package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Kind names an output format.
type Kind string

// The formats.
const (
	JSON Kind = "json"
	XML  Kind = "xml"
	CSV  Kind = "csv"
)

// Kinds are the formats in the order forms offer them.
var Kinds = []Kind{JSON, XML, CSV}

// Spec is how a target wants its bodies: a format and that format's
// settings. The zero Spec is JSON.
type Spec struct {
	Kind Kind `json:"kind" yaml:"kind"`
	// XML settings, for Kind xml.
	XML *XMLSpec `json:"xml,omitempty" yaml:"xml,omitempty"`
	// CSV settings, for Kind csv.
	CSV *CSVSpec `json:"csv,omitempty" yaml:"csv,omitempty"`
}

// XMLSpec names the document's root element and, optionally, its default
// namespace.
type XMLSpec struct {
	Root      string `json:"root" yaml:"root"`
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
}

// CSVSpec declares a CSV body's columns and how it is written. The zero
// values of the separators are RFC 4180's: comma, double quote, a point
// for decimals and CRLF line endings.
type CSVSpec struct {
	Columns []Column `json:"columns" yaml:"columns"`
	// Rows is the path of an array in the output (e.g. "lines"): one row
	// per item, with the output's other fields repeated on each. Empty:
	// one row per output object (per item when the output is an array).
	Rows             string `json:"rows,omitempty" yaml:"rows,omitempty"`
	Delimiter        string `json:"delimiter,omitempty" yaml:"delimiter,omitempty"`
	Quote            string `json:"quote,omitempty" yaml:"quote,omitempty"`
	DecimalSeparator string `json:"decimalSeparator,omitempty" yaml:"decimalSeparator,omitempty"`
	// LineEnding is "crlf" (the default, as RFC 4180 says) or "lf".
	LineEnding string `json:"lineEnding,omitempty" yaml:"lineEnding,omitempty"`
	// NoHeader leaves the header row out.
	NoHeader bool `json:"noHeader,omitempty" yaml:"noHeader,omitempty"`
}

// Column is one CSV column: its header and the path of its value. With
// CSVSpec.Rows set, a path under the rows array ("lines.sku") reads the
// current item, any other path the output around it.
type Column struct {
	Header string `json:"header" yaml:"header"`
	Path   string `json:"path" yaml:"path"`
}

// Limits on what a configuration may declare, so that one stays small.
const (
	MaxColumns    = 200
	MaxNameLength = 200
)

// Problem is one thing wrong with a Spec: the field at fault, in the
// form's words ("xml.root", "csv.columns[2].path"), and what to fix.
type Problem struct {
	Field   string
	Message string
}

func (p Problem) Error() string { return p.Field + ": " + p.Message }

// Normalized returns s with its defaults filled in: JSON for no kind, the
// RFC 4180 separators for CSV, and no settings of the formats it is not.
func (s Spec) Normalized() Spec {
	switch s.Kind {
	case "", JSON:
		return Spec{Kind: JSON}
	case XML:
		x := XMLSpec{}
		if s.XML != nil {
			x = XMLSpec{Root: strings.TrimSpace(s.XML.Root), Namespace: strings.TrimSpace(s.XML.Namespace)}
		}
		return Spec{Kind: XML, XML: &x}
	case CSV:
		c := CSVSpec{}
		if s.CSV != nil {
			c = *s.CSV
			c.Columns = append([]Column(nil), s.CSV.Columns...)
		}
		for i := range c.Columns {
			c.Columns[i].Path = strings.TrimSpace(c.Columns[i].Path)
		}
		c.Rows = strings.TrimSpace(c.Rows)
		if c.Delimiter == "" {
			c.Delimiter = ","
		}
		if c.Quote == "" {
			c.Quote = `"`
		}
		if c.DecimalSeparator == "" {
			c.DecimalSeparator = "."
		}
		if c.LineEnding == "" {
			c.LineEnding = "crlf"
		}
		return Spec{Kind: CSV, CSV: &c}
	}
	return s
}

// Check lists what is wrong with s (normalized first), every problem at
// once; none means every output the engine can write either encodes or
// fails with an error naming the value at fault.
func (s Spec) Check() []Problem {
	s = s.Normalized()
	var out []Problem
	add := func(field, format string, args ...any) {
		out = append(out, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	switch s.Kind {
	case JSON:
	case XML:
		switch {
		case s.XML.Root == "":
			add("xml.root", "name the root element the document is wrapped in (e.g. Order)")
		default:
			if err := checkName(s.XML.Root); err != nil {
				add("xml.root", "%v", err)
			}
		}
		if len(s.XML.Namespace) > MaxSettingLength {
			add("xml.namespace", "at most %d characters", MaxSettingLength)
		} else if strings.ContainsAny(s.XML.Namespace, " \t\r\n<>\"") {
			add("xml.namespace", "a namespace is a URI without spaces, quotes or angle brackets (e.g. urn:example:orders)")
		}
	case CSV:
		c := s.CSV
		if len(c.Columns) == 0 {
			add("csv.columns", "declare at least one column: a header and the path of its value (e.g. orderId)")
		}
		if len(c.Columns) > MaxColumns {
			add("csv.columns", "at most %d columns", MaxColumns)
		}
		for i, col := range c.Columns {
			if len(col.Header) > MaxNameLength {
				add(fmt.Sprintf("csv.columns[%d].header", i), "at most %d characters", MaxNameLength)
			}
			if col.Path == "" {
				add(fmt.Sprintf("csv.columns[%d].path", i), "say where column “%s” takes its value from (e.g. orderId, or lines.sku)", col.Header)
			} else if err := checkPath(col.Path); err != nil {
				add(fmt.Sprintf("csv.columns[%d].path", i), "%v", err)
			}
		}
		if c.Rows != "" {
			if err := checkPath(c.Rows); err != nil {
				add("csv.rows", "%v", err)
			}
		}
		one := func(field, v, what string) {
			if r := []rune(v); len(r) != 1 || r[0] == '\r' || r[0] == '\n' {
				add(field, "%s is one character, not a line break (got %q)", what, v)
			}
		}
		one("csv.delimiter", c.Delimiter, "the delimiter")
		one("csv.quote", c.Quote, "the quote")
		one("csv.decimalSeparator", c.DecimalSeparator, "the decimal separator")
		if c.Quote == c.Delimiter {
			add("csv.quote", "the quote and the delimiter must differ")
		}
		if c.LineEnding != "crlf" && c.LineEnding != "lf" {
			add("csv.lineEnding", "crlf or lf (got %q)", c.LineEnding)
		}
	default:
		add("kind", "one of json, xml or csv (got %q)", string(s.Kind))
	}
	return out
}

// MaxSettingLength bounds a free-text setting such as a namespace.
const MaxSettingLength = 1024

// ContentType is the media type of bodies in s.
func (s Spec) ContentType() string {
	switch s.Kind {
	case XML:
		return "application/xml; charset=utf-8"
	case CSV:
		return "text/csv; charset=utf-8"
	}
	return "application/json"
}

// Label is s in a sentence: "json", "xml (root Order)", "csv (5 columns)".
func (s Spec) Label() string {
	s = s.Normalized()
	switch s.Kind {
	case XML:
		return "xml (root " + s.XML.Root + ")"
	case CSV:
		if s.CSV.Rows != "" {
			return fmt.Sprintf("csv (%d columns, a row per item of %s)", len(s.CSV.Columns), s.CSV.Rows)
		}
		return fmt.Sprintf("csv (%d columns)", len(s.CSV.Columns))
	}
	return "json"
}

// Encode returns output, a route's mapped output as JSON, in format s.
// An output the format cannot carry is an *EncodeError naming the value
// at fault.
func Encode(s Spec, output []byte) ([]byte, error) {
	s = s.Normalized()
	if s.Kind == JSON {
		return output, nil
	}
	if ps := s.Check(); len(ps) > 0 {
		return nil, fmt.Errorf("the target's %s format is misconfigured: %v", s.Kind, ps[0])
	}
	v, err := decodeOrdered(output)
	if err != nil {
		return nil, fmt.Errorf("the mapped output is not JSON: %w", err)
	}
	switch s.Kind {
	case XML:
		return encodeXML(*s.XML, v)
	case CSV:
		return encodeCSV(*s.CSV, v)
	}
	return nil, fmt.Errorf("unknown format %q", s.Kind)
}

// EncodeError is an output the format cannot carry: Path is the JSON path
// of the value at fault ("lines[2].sku"), Row and Column the CSV cell when
// there is one.
type EncodeError struct {
	Path    string
	Row     int    // 1-based data row, 0 when not CSV
	Column  string // the column's header, "" when not CSV
	Message string
}

func (e *EncodeError) Error() string {
	switch {
	case e.Row > 0:
		return fmt.Sprintf("row %d, column “%s” (%s): %s", e.Row, e.Column, e.Path, e.Message)
	case e.Path == "":
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// member is one key of an object, in document order.
type member struct {
	key   string
	value any
}

// object is a JSON object with its keys in document order.
type object []member

func (o object) get(key string) (any, bool) {
	for _, m := range o {
		if m.key == key {
			return m.value, true
		}
	}
	return nil, false
}

// decodeOrdered decodes JSON into object, []any, string, json.Number,
// bool and nil, keeping keys in order.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("more than one value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				o = append(o, member{key: kt.(string), value: v})
			}
			_, err := dec.Token()
			return o, err
		case '[':
			a := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token()
			return a, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	}
	return t, nil
}

// childPath is path extended by key, the way the designer writes paths.
func childPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// indexPath is path extended by an array index.
func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// typeOf names v's JSON type for messages.
func typeOf(v any) string {
	switch v.(type) {
	case object:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}
