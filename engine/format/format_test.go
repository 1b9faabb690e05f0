package format_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine/format"
)

func xmlSpec(root, ns string) format.Spec {
	return format.Spec{Kind: format.XML, XML: &format.XMLSpec{Root: root, Namespace: ns}}
}

func csvSpec(rows string, cols ...string) format.Spec {
	s := format.Spec{Kind: format.CSV, CSV: &format.CSVSpec{Rows: rows}}
	for i := 0; i+1 < len(cols); i += 2 {
		s.CSV.Columns = append(s.CSV.Columns, format.Column{Header: cols[i], Path: cols[i+1]})
	}
	return s
}

func TestJSONIsTheOutputAsItIs(t *testing.T) {
	t.Parallel()
	out := []byte(`{"b":1,"a":"ü"}`)
	got, err := format.Encode(format.Spec{}, out)
	require.NoError(t, err)
	require.Equal(t, out, got)
	require.Equal(t, "application/json", format.Spec{}.ContentType())
}

func TestCheck(t *testing.T) {
	t.Parallel()
	fields := func(s format.Spec) []string {
		var out []string
		for _, p := range s.Check() {
			out = append(out, p.Field)
		}
		return out
	}
	t.Run("json needs nothing", func(t *testing.T) {
		require.Empty(t, format.Spec{Kind: format.JSON}.Check())
	})
	t.Run("an unknown kind", func(t *testing.T) {
		require.Equal(t, []string{"kind"}, fields(format.Spec{Kind: "yaml"}))
	})
	t.Run("xml without a root", func(t *testing.T) {
		ps := format.Spec{Kind: format.XML}.Check()
		require.Len(t, ps, 1)
		require.Equal(t, "xml.root", ps[0].Field)
		require.Contains(t, ps[0].Message, "name the root element")
	})
	t.Run("xml with a root that is not a name", func(t *testing.T) {
		ps := xmlSpec("1Order", "").Check()
		require.Len(t, ps, 1)
		require.Equal(t, "xml.root", ps[0].Field)
		require.Contains(t, ps[0].Message, "“1Order” is not an XML name")
	})
	t.Run("xml with a namespace that is not a URI", func(t *testing.T) {
		require.Equal(t, []string{"xml.namespace"}, fields(xmlSpec("Order", "urn:a b")))
	})
	t.Run("xml with a prefixed root and a namespace", func(t *testing.T) {
		require.Empty(t, xmlSpec("ord:Order", "urn:example:orders").Check())
	})
	t.Run("csv without columns", func(t *testing.T) {
		ps := csvSpec("").Check()
		require.Len(t, ps, 1)
		require.Equal(t, "csv.columns", ps[0].Field)
	})
	t.Run("csv column without a path", func(t *testing.T) {
		require.Equal(t, []string{"csv.columns[1].path"}, fields(csvSpec("", "id", "id", "sku", " ")))
	})
	t.Run("csv column with a broken path", func(t *testing.T) {
		require.Equal(t, []string{"csv.columns[0].path"}, fields(csvSpec("", "id", "a..b")))
	})
	t.Run("csv separators are one character each", func(t *testing.T) {
		s := csvSpec("", "id", "id")
		s.CSV.Delimiter, s.CSV.Quote, s.CSV.DecimalSeparator, s.CSV.LineEnding = ";;", "\n", "", "cr"
		require.Equal(t, []string{"csv.delimiter", "csv.quote", "csv.lineEnding"}, fields(s))
	})
	t.Run("csv quote and delimiter differ", func(t *testing.T) {
		s := csvSpec("", "id", "id")
		s.CSV.Delimiter, s.CSV.Quote = "'", "'"
		require.Equal(t, []string{"csv.quote"}, fields(s))
	})
}

func TestEncodeXML(t *testing.T) {
	t.Parallel()
	enc := func(t *testing.T, s format.Spec, out string) string {
		t.Helper()
		b, err := format.Encode(s, []byte(out))
		require.NoError(t, err)
		return string(b)
	}
	t.Run("the convention", func(t *testing.T) {
		got := enc(t, xmlSpec("Order", "urn:example:orders"),
			`{"@id":"A-1","number":1001,"paid":true,"note":null,"total":{"@currency":"EUR","#text":12.5},"lines":[{"sku":"S1","qty":2},{"sku":"S2","qty":1}],"tags":["a","b"]}`)
		require.Equal(t, `<?xml version="1.0" encoding="UTF-8"?>
<Order xmlns="urn:example:orders" id="A-1">
  <number>1001</number>
  <paid>true</paid>
  <note/>
  <total currency="EUR">12.5</total>
  <lines>
    <sku>S1</sku>
    <qty>2</qty>
  </lines>
  <lines>
    <sku>S2</sku>
    <qty>1</qty>
  </lines>
  <tags>a</tags>
  <tags>b</tags>
</Order>
`, got)
		require.Equal(t, "application/xml; charset=utf-8", xmlSpec("Order", "").ContentType())
	})
	t.Run("keeps the output's key order", func(t *testing.T) {
		got := enc(t, xmlSpec("R", ""), `{"z":1,"a":2}`)
		require.Less(t, strings.Index(got, "<z>"), strings.Index(got, "<a>"))
	})
	t.Run("escapes text and attributes, keeps unicode", func(t *testing.T) {
		got := enc(t, xmlSpec("R", ""), `{"@note":"say \"hi\"\n<now>","name":"Zoë & Søn <GmbH> 日本 🚚"}`)
		require.Contains(t, got, `<R note="say &quot;hi&quot;&#xA;&lt;now&gt;">`)
		require.Contains(t, got, `<name>Zoë &amp; Søn &lt;GmbH&gt; 日本 🚚</name>`)
	})
	t.Run("a null attribute is left out", func(t *testing.T) {
		require.Contains(t, enc(t, xmlSpec("R", ""), `{"@a":null,"b":"x"}`), "<R>\n")
	})
	t.Run("text beside children stays on its line", func(t *testing.T) {
		require.Contains(t, enc(t, xmlSpec("R", ""), `{"p":{"#text":"Hello ","b":"world"}}`), "<p>Hello <b>world</b></p>")
	})
	t.Run("a scalar output is the root's text", func(t *testing.T) {
		require.Contains(t, enc(t, xmlSpec("R", ""), `"x"`), "<R>x</R>")
	})

	fails := func(t *testing.T, out, path, msg string) {
		t.Helper()
		_, err := format.Encode(xmlSpec("R", ""), []byte(out))
		var ee *format.EncodeError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, path, ee.Path)
		require.Contains(t, err.Error(), msg)
	}
	t.Run("a key that is not an element name", func(t *testing.T) {
		fails(t, `{"lines":[{"sku":"a"},{"unit price":1}]}`, "lines[1].unit price", "“unit price” is not an XML name")
	})
	t.Run("an attribute name that is not a name", func(t *testing.T) {
		fails(t, `{"a":{"@9":"x"}}`, "a.@9", "is not an XML name")
	})
	t.Run("an attribute holding an object", func(t *testing.T) {
		fails(t, `{"a":{"@x":{"y":1}}}`, "a.@x", "is an object, but XML an attribute holds text")
	})
	t.Run("an array in an array", func(t *testing.T) {
		fails(t, `{"m":[[1,2]]}`, "m[0]", "an array directly inside an array")
	})
	t.Run("a control character", func(t *testing.T) {
		fails(t, `{"a":"bell\u0007"}`, "a", "U+0007")
	})
	t.Run("an array output", func(t *testing.T) {
		fails(t, `[1,2]`, "", "one root element")
	})
}

func TestDecodeXML(t *testing.T) {
	t.Parallel()
	dec := func(t *testing.T, doc string) string {
		t.Helper()
		b, err := format.DecodeXML([]byte(doc))
		require.NoError(t, err)
		return string(b)
	}
	t.Run("the convention", func(t *testing.T) {
		got := dec(t, `<?xml version="1.0" encoding="UTF-8"?>
<o:Order xmlns:o="urn:x" xmlns="urn:y" id="A-1">
  <number>1001</number>
  <total currency="EUR">12.50</total>
  <lines><sku>S1</sku></lines>
  <lines><sku>S2</sku></lines>
  <note/>
  <!-- a comment -->
  <p>Hello <b>world</b></p>
  <![CDATA[]]>
</o:Order>`)
		require.JSONEq(t, `{"@id":"A-1","number":"1001","total":{"@currency":"EUR","#text":"12.50"},"lines":[{"sku":"S1"},{"sku":"S2"}],"note":"","p":{"b":"world","#text":"Hello"}}`, got)
		require.True(t, strings.HasPrefix(got, `{"@id":"A-1","number"`), "keys in document order: %s", got)
	})
	t.Run("round-trips the output convention", func(t *testing.T) {
		out := `{"@id":"Zoë \"&\" <1>","name":"日本 🚚\nline 2","lines":[{"sku":"a,b"},{"sku":"c"}],"total":{"@currency":"EUR","#text":"9.90"}}`
		b, err := format.Encode(xmlSpec("Order", "urn:example"), []byte(out))
		require.NoError(t, err)
		require.JSONEq(t, out, dec(t, string(b)))
	})
	refused := func(t *testing.T, doc, msg string) error {
		t.Helper()
		_, err := format.DecodeXML([]byte(doc))
		require.Error(t, err)
		require.Contains(t, err.Error(), msg)
		return err
	}
	t.Run("an external entity (XXE) is refused for its DOCTYPE", func(t *testing.T) {
		err := refused(t, `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`, "DOCTYPE")
		require.True(t, errors.Is(err, format.ErrDoctype))
	})
	t.Run("an entity expansion bomb is refused for its DOCTYPE", func(t *testing.T) {
		require.ErrorIs(t, refused(t, `<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>`, "DOCTYPE"), format.ErrDoctype)
	})
	t.Run("an undeclared entity", func(t *testing.T) {
		refused(t, `<r>&x;</r>`, "not well-formed")
	})
	t.Run("too deep", func(t *testing.T) {
		doc := strings.Repeat("<a>", format.MaxXMLDepth+1) + strings.Repeat("</a>", format.MaxXMLDepth+1)
		refused(t, doc, "levels deep")
	})
	t.Run("too many elements", func(t *testing.T) {
		doc := "<r>" + strings.Repeat("<a/>", format.MaxXMLElements) + "</r>"
		refused(t, doc, "more than 100000 elements")
	})
	t.Run("mismatched tags", func(t *testing.T) {
		refused(t, `<a><b></a></b>`, "closes <b> with </a>")
	})
	t.Run("unclosed", func(t *testing.T) {
		refused(t, `<a><b></b>`, "ends before <a> is closed")
	})
	t.Run("two roots", func(t *testing.T) {
		refused(t, `<a/><b/>`, "more than one root")
	})
	t.Run("no root", func(t *testing.T) {
		refused(t, `<?xml version="1.0"?>`, "no root element")
	})
}

func TestEncodeCSV(t *testing.T) {
	t.Parallel()
	order := `{"orderId":"A-1","customer":{"name":"Zoë \"Z\" Müller"},"total":12.5,"lines":[{"sku":"S1","qty":2,"price":1.25},{"sku":"S,2","qty":1,"price":10}]}`
	enc := func(t *testing.T, s format.Spec, out string) string {
		t.Helper()
		b, err := format.Encode(s, []byte(out))
		require.NoError(t, err)
		return string(b)
	}
	t.Run("one row per output object", func(t *testing.T) {
		got := enc(t, csvSpec("", "Order", "orderId", "Customer", "customer.name", "Total", "total", "Missing", "nothing.here"), order)
		require.Equal(t, "Order,Customer,Total,Missing\r\nA-1,\"Zoë \"\"Z\"\" Müller\",12.5,\r\n", got)
		require.Equal(t, "text/csv; charset=utf-8", csvSpec("", "a", "a").ContentType())
	})
	t.Run("one row per item of an array, header fields repeated", func(t *testing.T) {
		got := enc(t, csvSpec("lines", "Order", "orderId", "SKU", "lines.sku", "Qty", "lines.qty", "Line price", "lines.price"), order)
		require.Equal(t, "Order,SKU,Qty,Line price\r\nA-1,S1,2,1.25\r\nA-1,\"S,2\",1,10\r\n", got)
	})
	t.Run("one row per item of an array output", func(t *testing.T) {
		got := enc(t, csvSpec("", "id", "id"), `[{"id":1},{"id":2}]`)
		require.Equal(t, "id\r\n1\r\n2\r\n", got)
	})
	t.Run("delimiter, quote, decimal separator and line ending", func(t *testing.T) {
		s := csvSpec("lines", "Order", "orderId", "Name", "customer.name", "Price", "lines.price")
		s.CSV.Delimiter, s.CSV.Quote, s.CSV.DecimalSeparator, s.CSV.LineEnding = ";", "'", ",", "lf"
		got := enc(t, s, `{"orderId":"it's","customer":{"name":"a;b"},"lines":[{"price":1.25},{"price":-0.5}]}`)
		require.Equal(t, "Order;Name;Price\n'it''s';'a;b';1,25\n'it''s';'a;b';-0,5\n", got)
	})
	t.Run("newlines, tabs and unicode", func(t *testing.T) {
		got := enc(t, csvSpec("", "Note", "note", "City", "city"), `{"note":"line 1\nline 2\r\n\tend","city":"København 東京"}`)
		require.Equal(t, "Note,City\r\n\"line 1\nline 2\r\n\tend\",København 東京\r\n", got)
	})
	t.Run("no header", func(t *testing.T) {
		s := csvSpec("", "id", "id")
		s.CSV.NoHeader = true
		require.Equal(t, "7\r\n", enc(t, s, `{"id":7}`))
	})
	t.Run("no items, no rows", func(t *testing.T) {
		require.Equal(t, "sku\r\n", enc(t, csvSpec("lines", "sku", "lines.sku"), `{"lines":[]}`))
	})

	fails := func(t *testing.T, s format.Spec, out string, row int, col, path, msg string) {
		t.Helper()
		_, err := format.Encode(s, []byte(out))
		var ee *format.EncodeError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, row, ee.Row)
		require.Equal(t, col, ee.Column)
		require.Equal(t, path, ee.Path)
		require.Contains(t, err.Error(), msg)
	}
	t.Run("an object in a cell names the row and column", func(t *testing.T) {
		fails(t, csvSpec("lines", "Order", "orderId", "SKU", "lines.sku"), `{"orderId":"A","lines":[{"sku":"a"},{"sku":{"code":"b"}}]}`,
			2, "SKU", "lines[1].sku", "row 2, column “SKU” (lines[1].sku): the value is an object")
	})
	t.Run("an array in a cell", func(t *testing.T) {
		fails(t, csvSpec("", "Lines", "lines"), order, 1, "Lines", "lines", "the value is an array")
	})
	t.Run("rows that are not an array", func(t *testing.T) {
		fails(t, csvSpec("customer", "x", "customer.name"), order, 0, "", "customer", "not an array")
	})
	t.Run("an output that is not an object", func(t *testing.T) {
		fails(t, csvSpec("", "x", "x"), `[{"x":1},"two"]`, 0, "", "[1]", "a CSV row is made from an object")
	})
}

func TestDecodeCSV(t *testing.T) {
	t.Parallel()
	t.Run("one object per row, values as strings", func(t *testing.T) {
		rows, err := format.DecodeCSV([]byte("\uFEFFsku,qty,note\r\nS1,2,\"a, \"\"b\"\"\nc\"\r\nS2,1,\n"), 10)
		require.NoError(t, err)
		require.Len(t, rows, 2)
		require.Equal(t, `{"sku":"S1","qty":"2","note":"a, \"b\"\nc"}`, string(rows[0]))
		require.Equal(t, `{"sku":"S2","qty":"1","note":""}`, string(rows[1]))
	})
	t.Run("round-trips what the csv format writes", func(t *testing.T) {
		out := `{"lines":[{"a":"Zoë \"Z\"","b":"x,y","c":"line 1\nline 2"},{"a":"東京 🚚","b":" lead","c":""}]}`
		b, err := format.Encode(csvSpec("lines", "a", "lines.a", "b", "lines.b", "c", "lines.c"), []byte(out))
		require.NoError(t, err)
		rows, err := format.DecodeCSV(b, 10)
		require.NoError(t, err)
		var want struct{ Lines []map[string]string }
		require.NoError(t, json.Unmarshal([]byte(out), &want))
		require.Len(t, rows, 2)
		for i, r := range rows {
			var got map[string]string
			require.NoError(t, json.Unmarshal(r, &got))
			require.Equal(t, want.Lines[i], got)
		}
	})
	refused := func(t *testing.T, body string, max int, msg string) {
		t.Helper()
		_, err := format.DecodeCSV([]byte(body), max)
		require.Error(t, err)
		require.Contains(t, err.Error(), msg)
	}
	t.Run("empty", func(t *testing.T) { refused(t, "", 10, "first row must name the columns") })
	t.Run("a header without rows", func(t *testing.T) { refused(t, "a,b\r\n", 10, "no rows") })
	t.Run("an unnamed column", func(t *testing.T) { refused(t, "a,,c\r\n1,2,3\r\n", 10, "no name for column 2") })
	t.Run("a repeated column", func(t *testing.T) { refused(t, "a,b,a\r\n1,2,3\r\n", 10, "columns 1 and 3 both “a”") })
	t.Run("a short row", func(t *testing.T) { refused(t, "a,b\r\n1,2\r\n3\r\n", 10, "line 3 has another number of fields") })
	t.Run("a bare quote", func(t *testing.T) { refused(t, "a\r\nx\"y\r\n", 10, "line 2") })
	t.Run("too many rows", func(t *testing.T) { refused(t, "a\r\n1\r\n2\r\n3\r\n", 2, "too many rows: more than 2") })
	t.Run("not UTF-8", func(t *testing.T) { refused(t, "a\r\n\xff\r\n", 10, "UTF-8") })
}
