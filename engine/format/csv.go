package format

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// checkPath says what is wrong with a value path: dot-separated keys,
// each non-empty, an array index as a number key (lines.0.sku).
func checkPath(path string) error {
	if len(path) > MaxNameLength {
		return fmt.Errorf("a path is at most %d characters", MaxNameLength)
	}
	for _, seg := range strings.Split(path, ".") {
		if seg == "" {
			return fmt.Errorf("“%s” is not a path: write keys separated by single dots (e.g. customer.email)", path)
		}
	}
	return nil
}

// lookup follows path from v; found is false when a key or index is
// missing (the cell is empty, like a null).
func lookup(v any, path string) (any, bool) {
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case object:
			var ok bool
			if v, ok = x.get(seg); !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// encodeCSV writes v's rows under spec.
func encodeCSV(spec CSVSpec, v any) ([]byte, error) {
	w := csvWriter{spec: spec, delim: []rune(spec.Delimiter)[0], quote: []rune(spec.Quote)[0], eol: "\r\n"}
	if spec.LineEnding == "lf" {
		w.eol = "\n"
	}
	if !spec.NoHeader {
		headers := make([]string, len(spec.Columns))
		for i, c := range spec.Columns {
			headers[i] = c.Header
		}
		w.record(headers)
	}
	// The outputs: the value itself, or each item when it is an array.
	outputs, paths := []any{v}, []string{""}
	if items, ok := v.([]any); ok {
		outputs, paths = items, make([]string, len(items))
		for i := range items {
			paths[i] = indexPath("", i)
		}
	}
	row := 0
	cells := make([]string, len(spec.Columns))
	for oi, out := range outputs {
		if _, ok := out.(object); !ok {
			return nil, &EncodeError{Path: orRoot(paths[oi]), Message: fmt.Sprintf("the output is %s; a CSV row is made from an object", typeOf(out))}
		}
		if spec.Rows == "" {
			row++
			for ci, c := range spec.Columns {
				cell, err := w.cell(row, c, out, c.Path, joinPath(paths[oi], c.Path))
				if err != nil {
					return nil, err
				}
				cells[ci] = cell
			}
			w.record(cells)
			continue
		}
		rowsAt := joinPath(paths[oi], spec.Rows)
		raw, found := lookup(out, spec.Rows)
		if !found || raw == nil {
			continue // no items, no rows
		}
		items, ok := raw.([]any)
		if !ok {
			return nil, &EncodeError{Path: rowsAt, Message: fmt.Sprintf("the rows come from %s, which is %s, not an array", spec.Rows, typeOf(raw))}
		}
		prefix := spec.Rows + "."
		for ii, item := range items {
			row++
			for ci, c := range spec.Columns {
				var cell string
				var err error
				if rel, ok := strings.CutPrefix(c.Path, prefix); ok {
					cell, err = w.cell(row, c, item, rel, joinPath(indexPath(rowsAt, ii), rel))
				} else {
					cell, err = w.cell(row, c, out, c.Path, joinPath(paths[oi], c.Path))
				}
				if err != nil {
					return nil, err
				}
				cells[ci] = cell
			}
			w.record(cells)
		}
	}
	return w.b.Bytes(), nil
}

func orRoot(p string) string {
	if p == "" {
		return "the output"
	}
	return p
}

func joinPath(base, rel string) string {
	if base == "" {
		return rel
	}
	return base + "." + rel
}

type csvWriter struct {
	spec  CSVSpec
	delim rune
	quote rune
	eol   string
	b     bytes.Buffer
}

// cell is column c of row from v.
func (w *csvWriter) cell(row int, c Column, v any, path, fullPath string) (string, error) {
	val, _ := lookup(v, path)
	fail := func(msg string) error {
		return &EncodeError{Path: fullPath, Row: row, Column: c.Header, Message: msg}
	}
	switch x := val.(type) {
	case nil:
		return "", nil
	case string:
		if !utf8.ValidString(x) {
			return "", fail("is not valid UTF-8")
		}
		return x, nil
	case json.Number:
		s := x.String()
		if w.spec.DecimalSeparator != "." {
			s = strings.Replace(s, ".", w.spec.DecimalSeparator, 1)
		}
		return s, nil
	case bool:
		return strconv.FormatBool(x), nil
	case object:
		return "", fail("the value is an object, and a CSV cell holds text, a number or a boolean: point the column at one of its fields (e.g. " + path + "." + firstKey(x) + ")")
	case []any:
		return "", fail("the value is an array, and a CSV cell holds text, a number or a boolean: set the rows to this array for a row per item, or point the column at one item")
	}
	return "", fail(fmt.Sprintf("cannot write %T", val))
}

func firstKey(o object) string {
	if len(o) == 0 {
		return "field"
	}
	return o[0].key
}

// record writes one line, quoting the fields that need it as RFC 4180
// says: those holding the delimiter, the quote or a line break (and a
// leading space, which some readers trim), with quotes doubled.
// encoding/csv's Writer cannot, as its quote is always ".
func (w *csvWriter) record(fields []string) {
	for i, f := range fields {
		if i > 0 {
			w.b.WriteRune(w.delim)
		}
		if !w.needsQuotes(f) {
			w.b.WriteString(f)
			continue
		}
		w.b.WriteRune(w.quote)
		for _, r := range f {
			if r == w.quote {
				w.b.WriteRune(w.quote)
			}
			w.b.WriteRune(r)
		}
		w.b.WriteRune(w.quote)
	}
	w.b.WriteString(w.eol)
}

func (w *csvWriter) needsQuotes(f string) bool {
	if f == "" {
		return false
	}
	if f[0] == ' ' || f[0] == '\t' {
		return true
	}
	return strings.ContainsFunc(f, func(r rune) bool { return r == w.delim || r == w.quote || r == '\r' || r == '\n' })
}

// ErrTooManyRows is DecodeCSV's refusal of a body with more rows than
// its caller takes.
var ErrTooManyRows = errors.New("the CSV body has too many rows")

// MaxCSVColumns bounds the columns of a CSV body read in.
const MaxCSVColumns = 1000

// DecodeCSV reads an RFC 4180 body (comma-separated, double quotes) whose
// first row is the header into one JSON object per row, each value a
// string, keys in the header's order; at most maxRows rows (the caller's
// batch limit), checked as it reads. Rows of another length than the
// header, an empty or repeated header name, or no header at all are
// errors naming the row.
func DecodeCSV(data []byte, maxRows int) ([][]byte, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("the CSV body is not UTF-8: save or export it as UTF-8")
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = false
	header, err := r.Read()
	if err == io.EOF {
		return nil, errors.New("the CSV body is empty: its first row must name the columns")
	}
	if err != nil {
		return nil, csvError(err)
	}
	if len(header) > MaxCSVColumns {
		return nil, fmt.Errorf("the CSV header has %d columns; at most %d are allowed", len(header), MaxCSVColumns)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF") // a byte order mark spreadsheets write
	}
	seen := make(map[string]int, len(header))
	for i, h := range header {
		if strings.TrimSpace(h) == "" {
			return nil, fmt.Errorf("the CSV header (line 1) has no name for column %d: the first row must name every column", i+1)
		}
		if j, dup := seen[h]; dup {
			return nil, fmt.Errorf("the CSV header (line 1) names columns %d and %d both “%s”: each column needs its own name", j+1, i+1, h)
		}
		seen[h] = i
	}
	var out [][]byte
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		if len(out) == maxRows {
			return nil, fmt.Errorf("%w: more than %d; send at most %d per request", ErrTooManyRows, maxRows, maxRows)
		}
		var b bytes.Buffer
		b.WriteByte('{')
		for i, h := range header {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(&b, h)
			b.WriteByte(':')
			writeString(&b, rec[i])
		}
		b.WriteByte('}')
		out = append(out, b.Bytes())
	}
	if len(out) == 0 {
		return nil, errors.New("the CSV body has a header but no rows")
	}
	return out, nil
}

// csvError says where a CSV body went wrong.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return fmt.Errorf("the CSV body's line %d has another number of fields than the header: every row needs one value per column (quote values that hold commas)", pe.StartLine)
		}
		return fmt.Errorf("the CSV body is not valid CSV at line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("the CSV body cannot be read: %w", err)
}
