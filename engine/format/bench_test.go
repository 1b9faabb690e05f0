package format_test

import (
	"os"
	"testing"

	"github.com/crossdock/crossdock/engine/format"
)

// The storefront template's ERP output for its first sample, as the XML
// golden file holds it, read back: a 2-line sales order (≈1.5 KB).
func benchOutput(b *testing.B) []byte {
	b.Helper()
	doc, err := os.ReadFile("testdata/storefront-order-to-erp.sample1.erp-sales-order.xml")
	if err != nil {
		b.Fatal(err)
	}
	out, err := format.DecodeXML(doc)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

func BenchmarkEncodeXML(b *testing.B) {
	out := benchOutput(b)
	spec := format.Spec{Kind: format.XML, XML: &format.XMLSpec{Root: "SalesOrder"}}
	b.SetBytes(int64(len(out)))
	for b.Loop() {
		if _, err := format.Encode(spec, out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeCSVRowPerLine(b *testing.B) {
	out := benchOutput(b)
	spec := format.Spec{Kind: format.CSV, CSV: &format.CSVSpec{Rows: "items", Columns: []format.Column{
		{Header: "Order", Path: "externalReference"}, {Header: "Customer", Path: "soldTo.name"},
		{Header: "SKU", Path: "items.material"}, {Header: "Qty", Path: "items.quantity"}, {Header: "Price", Path: "items.unitPrice"}}}}
	b.SetBytes(int64(len(out)))
	for b.Loop() {
		if _, err := format.Encode(spec, out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeXML(b *testing.B) {
	doc, err := os.ReadFile("testdata/storefront-order-to-erp.sample1.erp-sales-order.xml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := format.DecodeXML(doc); err != nil {
			b.Fatal(err)
		}
	}
}
