package format_test

import (
	"encoding/json"
	"testing"

	"github.com/crossdock/crossdock/engine/format"
)

// FuzzDecodeXML: any body either is refused or becomes valid JSON that
// the XML format writes back without error when every name is an XML
// name (always: they came from XML).
func FuzzDecodeXML(f *testing.F) {
	f.Add(`<order id="1"><name>x</name><lines><sku>a</sku></lines><lines><sku>b</sku></lines></order>`)
	f.Add(`<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>`)
	f.Add(`<a xmlns:p="urn:x"><p:b p:c="1">t<![CDATA[<d>]]></p:b></a>`)
	f.Fuzz(func(t *testing.T, doc string) {
		out, err := format.DecodeXML([]byte(doc))
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("not JSON: %s", out)
		}
		if _, err := format.Encode(format.Spec{Kind: format.XML, XML: &format.XMLSpec{Root: "R"}}, out); err != nil {
			t.Fatalf("decoded %q to %s, which does not encode: %v", doc, out, err)
		}
	})
}

// FuzzDecodeCSV: any body either is refused or gives one JSON object per
// row.
func FuzzDecodeCSV(f *testing.F) {
	f.Add("a,b\r\n1,\"x,\"\"y\"\"\"\r\n")
	f.Add("\uFEFFsku\n\n")
	f.Fuzz(func(t *testing.T, body string) {
		rows, err := format.DecodeCSV([]byte(body), 100)
		if err != nil {
			return
		}
		for _, r := range rows {
			var m map[string]string
			if err := json.Unmarshal(r, &m); err != nil {
				t.Fatalf("row %s: %v", r, err)
			}
		}
	})
}
