package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crossdock/crossdock/engine"
)

func benchFlow(b *testing.B) (*engine.Definition, []byte) {
	data, err := os.ReadFile(filepath.Join("testdata", "flows", "storefront-order-to-erp.json"))
	if err != nil {
		b.Fatal(err)
	}
	def := mustParse(b, data)
	return def, data
}

// BenchmarkParseAndCompile is the cost of loading a version (done once
// per version and process; programs are cached by checksum).
func BenchmarkParseAndCompile(b *testing.B) {
	_, data := benchFlow(b)
	for b.Loop() {
		def, err := engine.ParseDefinition(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := engine.Compile(def, engine.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchInput is the template's first sample, compacted as a sender would
// send it (the file is indented).
var benchInput = func(def *engine.Definition) engine.Input {
	var compact bytes.Buffer
	if err := json.Compact(&compact, def.Source.Samples[0].Payload); err != nil {
		panic(err)
	}
	return engine.Input{Payload: compact.Bytes(), Now: time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC), Vars: map[string]string{"ERP_COMPANY": "1000"}}
}

// BenchmarkRun maps the storefront sample order (2 lines) to an ERP sales
// order on one goroutine.
func BenchmarkRun(b *testing.B) {
	def, _ := benchFlow(b)
	p := mustCompile(b, def)
	in := benchInput(def)
	b.SetBytes(int64(len(in.Payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Run(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunTrace is the designer's live preview: every row traced.
func BenchmarkRunTrace(b *testing.B) {
	def, _ := benchFlow(b)
	p := mustCompile(b, def)
	in := benchInput(def)
	in.Trace = true
	b.SetBytes(int64(len(in.Payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Run(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunParallel runs one program from GOMAXPROCS goroutines, as the
// workers do.
func BenchmarkRunParallel(b *testing.B) {
	def, _ := benchFlow(b)
	p := mustCompile(b, def)
	in := benchInput(def)
	b.SetBytes(int64(len(in.Payload)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Run(context.Background(), in); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
