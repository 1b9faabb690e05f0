package engine

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProjectionIsInvisible runs every shipped flow's samples and test
// inputs twice, once decoding only the projected paths and once decoding
// everything, and requires identical results: projection is an
// optimisation and must never change what a mapping sees.
func TestProjectionIsInvisible(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "flows", "*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		def, err := ParseDefinition(data)
		if err != nil {
			t.Fatal(err)
		}
		projected, err := Compile(def, Options{})
		if err != nil {
			t.Fatal(err)
		}
		full, _ := Compile(def, Options{})
		full.projection.all()
		var inputs []json.RawMessage
		for _, s := range def.Source.Samples {
			inputs = append(inputs, s.Payload)
		}
		for _, tc := range def.Tests {
			inputs = append(inputs, tc.Input)
		}
		for i, in := range inputs {
			run := func(p *Program) string {
				res, err := p.Run(context.Background(), Input{Payload: in, Now: time.Unix(0, 0), Trace: true, MapInvalid: true,
					Vars: map[string]string{"ERP_COMPANY": "1", "REFUND_APPROVAL_LIMIT": "100", "MARKETPLACE_ENABLED": "true"}})
				if err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(res)
				return string(b)
			}
			if a, b := run(projected), run(full); a != b {
				t.Errorf("%s input %d: projection changed the result\nprojected: %s\nfull:      %s", filepath.Base(f), i, a, b)
			}
		}
	}
}

func TestProjectionShapes(t *testing.T) {
	def := func(schema string, exprs ...string) *Program {
		t.Helper()
		var rows []string
		for i, e := range exprs {
			b, _ := json.Marshal(e)
			rows = append(rows, `{"target":"r`+string(rune('a'+i))+`","expr":`+string(b)+`}`)
		}
		src := `{"formatVersion":1,"name":"p","source":{"system":"s","event":"e"` + schema + `},"targets":[{"name":"t","kind":"capture"}],"routes":[{"name":"r","target":"t","mapping":[` + strings.Join(rows, ",") + `]}]}`
		d, err := ParseDefinition([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(d, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	payload := []byte(`{"o":{"a":1,"b":2},"l":[{"x":1,"y":2},{"x":3,"y":4}],"s":"str"}`)
	cases := []struct {
		schema string
		exprs  []string
		want   string
	}{
		{"", []string{"source.o.a"}, `{"ra":1}`},
		{"", []string{"len(source.o)"}, `{"ra":2}`},                         // object length needs all keys
		{"", []string{"len(source.l)", "source.l[0].x"}, `{"ra":2,"rb":1}`}, // no schema: whole array
		{`,"schema":{"type":"object","properties":{"l":{"type":"array"}}}`, []string{"len(source.l)"}, `{"ra":2}`},
		{"", []string{"map(source.l, .x)"}, `{"ra":[1,3]}`},
		{"", []string{"filter(source.l, .x > 1)"}, `{"ra":[{"x":3,"y":4}]}`}, // elements escape: decoded whole
		{"", []string{"map(source.l, #)"}, `{"ra":[{"x":1,"y":2},{"x":3,"y":4}]}`},
		{"", []string{"map(source.l, map([1], #))"}, `{"ra":[[1],[1]]}`},
		{"", []string{"let o = source.o; o.a + o.b"}, `{"ra":3}`},
		{"", []string{"$env.source.s"}, `{"ra":"str"}`},
		{"", []string{"sum(source.l, .y)"}, `{"ra":6}`},
	}
	for _, c := range cases {
		res, err := def(c.schema, c.exprs...).Run(context.Background(), Input{Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(res.Routes[0].Output); got != c.want || len(res.Routes[0].Errors) > 0 {
			t.Errorf("%v: %s %v, want %s", c.exprs, got, res.Routes[0].Errors, c.want)
		}
	}
}
