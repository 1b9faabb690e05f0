package bench

import (
	"context"
	"encoding/json"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crossdock/crossdock/engine"
)

// TestMappingsAreEquivalent checks that the engine, Bloblang and jq
// produce the same outputs for the generated orders, so the benchmarks
// compare the same work.
func TestMappingsAreEquivalent(t *testing.T) {
	p := storefrontProgram(t)
	exe := bloblangExecutor(t)
	n := 300
	var jqOut []string
	if _, err := exec.LookPath("jq"); err == nil {
		cmd := exec.Command("jq", "-c", "--arg", "now", "2026-03-14T09:30:00Z", "-f", "storefront.jq")
		var in strings.Builder
		for _, o := range benchOrders[:n] {
			in.Write(o)
			in.WriteByte('\n')
		}
		cmd.Stdin = strings.NewReader(in.String())
		cmd.Env = append(cmd.Environ(), "ERP_COMPANY=1000")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("jq: %v", err)
		}
		jqOut = strings.Split(strings.TrimSpace(string(out)), "\n")
	} else {
		t.Log("jq not installed; comparing engine and Bloblang only")
	}
	for i, o := range benchOrders[:n] {
		res, err := p.Run(context.Background(), engine.Input{Payload: o, Now: time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC), Vars: map[string]string{"ERP_COMPANY": "1000"}})
		if err != nil || res.Failed() {
			t.Fatalf("engine, order %d: %v %+v", i, err, res)
		}
		want := map[string]any{}
		for _, r := range res.Routes {
			if r.Matched {
				var v any
				json.Unmarshal(r.Output, &v)
				want[r.Name] = v
			}
		}
		bl, err := bloblangMap(exe, o)
		if err != nil {
			t.Fatalf("bloblang, order %d: %v", i, err)
		}
		var got any
		json.Unmarshal(bl, &got)
		if !reflect.DeepEqual(normalise(want), got) {
			t.Fatalf("order %d: Bloblang differs\nengine:   %v\nbloblang: %v", i, normalise(want), got)
		}
		if jqOut != nil {
			var j any
			json.Unmarshal([]byte(jqOut[i]), &j)
			if !reflect.DeepEqual(normalise(want), j) {
				t.Fatalf("order %d: jq differs\nengine: %v\njq:     %v", i, normalise(want), j)
			}
		}
	}
}

func normalise(v any) any {
	b, _ := json.Marshal(v)
	var out any
	json.Unmarshal(b, &out)
	return out
}
