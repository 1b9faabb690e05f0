package engine_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/crossdock/crossdock/engine"
)

// mappingErrorFlow divides by a field of the input, so a zero quantity is a
// mapping failure of /routes/0/mapping/1.
const mappingErrorFlow = `{
  "formatVersion": 1, "name": "unit-price",
  "source": {"system": "oms", "event": "line"},
  "keys": {"idempotency": "source.id"},
  "routes": [{"name": "erp", "target": "erp",
    "mapping": [
      {"target": "id", "expr": "source.id"},
      {"target": "unitPrice", "expr": "decDiv(source.total, source.qty, 2)"}
    ]}],
  "targets": [{"name": "erp", "kind": "capture"}],
  "tests": %s
}`

func mappingErrorDef(t *testing.T, tests string) *engine.Definition {
	t.Helper()
	return mustParse(t, []byte(strings.Replace(mappingErrorFlow, "%s", tests, 1)))
}

func TestMappingErrorExpectation(t *testing.T) {
	t.Parallel()
	def := mappingErrorDef(t, `[
	  {"name": "zero quantity fails at the price row", "input": {"id": "a", "total": "10", "qty": "0"},
	   "expect": {"key": "a", "mappingError": {"pointer": "/routes/0/mapping/1", "contains": "division by zero"}}},
	  {"name": "the exact expression pointer matches too", "input": {"id": "a", "total": "10", "qty": "0"},
	   "expect": {"mappingError": {"pointer": "/routes/0/mapping/1/expr"}}},
	  {"name": "wrong pointer", "input": {"id": "a", "total": "10", "qty": "0"},
	   "expect": {"mappingError": {"pointer": "/routes/0/mapping/0", "contains": "division by zero"}}},
	  {"name": "a pointer matches whole segments", "input": {"id": "a", "total": "10", "qty": "0"},
	   "expect": {"mappingError": {"pointer": "/routes/0/mapping/1/ex"}}},
	  {"name": "wrong message", "input": {"id": "a", "total": "10", "qty": "0"},
	   "expect": {"mappingError": {"contains": "overflow"}}},
	  {"name": "expected a failure that does not happen", "input": {"id": "b", "total": "10", "qty": "4"},
	   "expect": {"mappingError": {"pointer": "/routes/0/mapping/1"}}},
	  {"name": "an unexpected failure", "input": {"id": "c", "total": "10", "qty": "0"},
	   "expect": {"routes": {"erp": {"id": "c", "unitPrice": 1}}}}
	]`)
	res := engine.RunTests(mustCompile(t, def), def)
	var lines []string
	for _, r := range res {
		status := "FAIL"
		if r.Passed {
			status = "ok"
		}
		lines = append(lines, status+" "+r.Name+": "+r.Error)
		for _, d := range r.Diffs {
			lines = append(lines, "  "+d.String())
		}
	}
	golden(t, "testcase-mapping-error.golden", []byte(strings.Join(lines, "\n")+"\n"))
}

func TestAcceptMakesTheCasePass(t *testing.T) {
	t.Parallel()
	def := mappingErrorDef(t, `[
	  {"name": "stale output", "input": {"id": "a", "total": "10", "qty": "4"}, "now": "2026-03-14T07:05:02Z",
	   "expect": {"key": "old", "routes": {"erp": {"id": "a", "unitPrice": 3}}}},
	  {"name": "now fails", "input": {"id": "b", "total": "10", "qty": "0"},
	   "expect": {"routes": {"erp": {"id": "b", "unitPrice": 1}}}}
	]`)
	prog := mustCompile(t, def)
	for i, tc := range def.Tests {
		acc, err := engine.Accept(prog, tc)
		if err != nil {
			t.Fatal(err)
		}
		if acc.Name != tc.Name || string(acc.Input) != string(tc.Input) || acc.Now != tc.Now {
			t.Errorf("accept changed more than the expectation: %+v", acc)
		}
		def.Tests[i] = acc
	}
	for _, r := range engine.RunTests(prog, def) {
		if !r.Passed {
			t.Errorf("%s still fails after accept: %v", r.Name, r.Diffs)
		}
	}
	got, _ := json.Marshal(def.Tests[0].Expect)
	if want := `{"key":"a","routes":{"erp":{"id":"a","unitPrice":"2.50"}}}`; string(got) != want {
		t.Errorf("accepted expectation\n got %s\nwant %s", got, want)
	}
	got, _ = json.Marshal(def.Tests[1].Expect)
	if want := `{"key":"b","mappingError":{"pointer":"/routes/0/mapping/1/expr","contains":"decDiv: division by zero (1:1)"}}`; string(got) != want {
		t.Errorf("accepted expectation\n got %s\nwant %s", got, want)
	}
	// The accepted definition is still valid under the schema.
	b, _ := json.Marshal(def)
	mustParse(t, b)

	bad := def.Tests[0]
	bad.Now = "never"
	if _, err := engine.Accept(prog, bad); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Errorf("accept with a bad now: %v", err)
	}
}

func TestMappingErrorPointerMatchesWholeSegments(t *testing.T) {
	t.Parallel()
	at := func(ptr string) engine.RowError {
		return engine.RowError{Pointer: ptr, Message: "decDiv: division by zero (1:1)"}
	}
	for _, c := range []struct {
		want  engine.MappingErrorExpectation
		err   engine.RowError
		match bool
	}{
		{engine.MappingErrorExpectation{Pointer: "/routes/0/mapping/1"}, at("/routes/0/mapping/1/expr"), true},
		{engine.MappingErrorExpectation{Pointer: "/routes/0/mapping/1/"}, at("/routes/0/mapping/1/rows/2/expr"), true},
		{engine.MappingErrorExpectation{Pointer: "/routes/0/mapping/1/expr"}, at("/routes/0/mapping/1/expr"), true},
		{engine.MappingErrorExpectation{Pointer: "/routes/0/mapping/1"}, at("/routes/0/mapping/10/expr"), false},
		{engine.MappingErrorExpectation{Pointer: "/routes/0/mapping/1", Contains: "zero"}, at("/routes/0/mapping/1/expr"), true},
		{engine.MappingErrorExpectation{Pointer: "/routes/0/mapping/1", Contains: "overflow"}, at("/routes/0/mapping/1/expr"), false},
		{engine.MappingErrorExpectation{}, at("/keys/correlation"), true},
	} {
		if got := c.want.Matches(c.err); got != c.match {
			t.Errorf("%s matches %s: %v, want %v", c.want.String(), c.err.Pointer, got, c.match)
		}
	}
}
