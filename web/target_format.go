package web

import (
	"fmt"
	"strings"

	"github.com/crossdock/crossdock/engine/format"
	"github.com/crossdock/crossdock/web/view"
)

// formatField is one field of the target form's body format: its form
// name, label and hint, and the name release.TargetConfig.Check gives
// its problems (format.xml.root; a CSV column's problems all land on the
// columns field).
type formatField struct {
	form, key, label, hint, input string
	options                       []string
}

// formatFields are the body format's fields in the form's order.
var formatFields = []formatField{
	{form: "format", key: "format.kind", label: "Body format", hint: "how deliveries' bodies are written: the mapped output as JSON, or XML or CSV by the settings below", input: "choice", options: []string{"json", "xml", "csv"}},
	{form: "format_xml_root", key: "format.xml.root", label: "XML root element", hint: "xml: the element the document is wrapped in, e.g. Order", input: "text"},
	{form: "format_xml_namespace", key: "format.xml.namespace", label: "XML namespace", hint: "xml, optional: the root's default namespace, e.g. urn:example:orders", input: "text"},
	{form: "format_csv_columns", key: "format.csv.columns", label: "CSV columns", hint: "csv: one column a line, header = path of its value (Order = orderId, SKU = lines.sku)", input: "lines"},
	{form: "format_csv_rows", key: "format.csv.rows", label: "CSV row per item of", hint: "csv, optional: an array of the output (lines) for one row per item, other columns repeated; empty: one row per message", input: "text"},
	{form: "format_csv_delimiter", key: "format.csv.delimiter", label: "CSV delimiter", hint: "csv: one character; empty is a comma", input: "text"},
	{form: "format_csv_quote", key: "format.csv.quote", label: "CSV quote", hint: `csv: one character; empty is "`, input: "text"},
	{form: "format_csv_decimal", key: "format.csv.decimalSeparator", label: "CSV decimal separator", hint: "csv: empty is a point", input: "text"},
	{form: "format_csv_line_ending", key: "format.csv.lineEnding", label: "CSV line ending", hint: "csv: crlf as RFC 4180 says, or lf", input: "choice", options: []string{"crlf", "lf"}},
	{form: "format_csv_header", key: "format.csv.noHeader", label: "CSV header row", hint: "csv: write the header row first", input: "choice", options: []string{"yes", "no"}},
}

// formatValues are spec's form values by form name.
func formatValues(spec format.Spec) map[string]string {
	spec = spec.Normalized()
	v := map[string]string{"format": string(spec.Kind), "format_csv_line_ending": "crlf", "format_csv_header": "yes"}
	if spec.XML != nil {
		v["format_xml_root"], v["format_xml_namespace"] = spec.XML.Root, spec.XML.Namespace
	}
	if c := spec.CSV; c != nil {
		lines := make([]string, len(c.Columns))
		for i, col := range c.Columns {
			lines[i] = col.Header + " = " + col.Path
		}
		v["format_csv_columns"] = strings.Join(lines, "\n")
		v["format_csv_rows"], v["format_csv_delimiter"], v["format_csv_quote"] = c.Rows, c.Delimiter, c.Quote
		v["format_csv_decimal"], v["format_csv_line_ending"] = c.DecimalSeparator, c.LineEnding
		if c.NoHeader {
			v["format_csv_header"] = "no"
		}
	}
	return v
}

// readFormat reads the body format from form values (formatValues'
// names); problems are keyed as TargetConfig.Check keys them. The
// settings of the formats not chosen are dropped.
func readFormat(values map[string]string) (format.Spec, map[string]string) {
	problems := map[string]string{}
	spec := format.Spec{Kind: format.Kind(strings.TrimSpace(values["format"]))}
	switch spec.Kind {
	case format.XML:
		spec.XML = &format.XMLSpec{Root: values["format_xml_root"], Namespace: values["format_xml_namespace"]}
	case format.CSV:
		c := &format.CSVSpec{Rows: values["format_csv_rows"], Delimiter: values["format_csv_delimiter"], Quote: values["format_csv_quote"],
			DecimalSeparator: values["format_csv_decimal"], LineEnding: values["format_csv_line_ending"], NoHeader: values["format_csv_header"] == "no"}
		for i, line := range strings.Split(strings.ReplaceAll(values["format_csv_columns"], "\r\n", "\n"), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			header, path, ok := strings.Cut(line, "=")
			if !ok {
				problems["format.csv.columns"] = fmt.Sprintf("line %d, “%s”, has no =: write header = path, e.g. SKU = lines.sku", i+1, strings.TrimSpace(line))
				continue
			}
			c.Columns = append(c.Columns, format.Column{Header: strings.TrimSpace(header), Path: strings.TrimSpace(path)})
		}
		spec.CSV = c
	}
	return spec, problems
}

// formatFormKey is the form field a format problem (TargetConfig.Check's
// key) belongs to, and its label; ok is false for other problems.
func formatFormKey(key string) (form, label string, ok bool) {
	if strings.HasPrefix(key, "format.csv.columns") {
		key = "format.csv.columns"
	}
	for _, f := range formatFields {
		if f.key == key {
			return f.form, f.label, true
		}
	}
	return "", "", false
}

// formatSettingFields are the format's fields of the target form.
func formatSettingFields(values, problems map[string]string) []view.SettingField {
	out := make([]view.SettingField, 0, len(formatFields))
	for _, f := range formatFields {
		out = append(out, view.SettingField{Name: f.form, Label: f.label, Hint: f.hint, Input: f.input, Options: f.options,
			Value: values[f.form], Problem: problems[f.form]})
	}
	return out
}
