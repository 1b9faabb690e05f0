package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTestCommandPassesTheShippedFlows(t *testing.T) {
	files, _ := filepath.Glob("../../engine/testdata/flows/*.json")
	var out, errOut bytes.Buffer
	if err := runTest(context.Background(), append([]string{"-v"}, files...), &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.HasSuffix(out.String(), "15 passed, 0 failed\n") || strings.Count(out.String(), "ok   ") != 15 {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestTestCommandPrintsDiffs(t *testing.T) {
	data, err := os.ReadFile(storefrontFlow)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), `"unitPrice": "19.99"`, `"unitPrice": "19.98"`, 1)
	broken = strings.Replace(broken, `"key": "storefront-5012345678901"`, `"key": "other"`, 1)
	path := filepath.Join(t.TempDir(), "flow.json")
	os.WriteFile(path, []byte(broken), 0o644)
	var out bytes.Buffer
	err = runTest(context.Background(), []string{path}, &out, &bytes.Buffer{})
	if !errors.Is(err, errFailures) {
		t.Fatalf("err = %v", err)
	}
	want := "FAIL " + path + ": sample order books as an ERP sales order\n" +
		`     key: expected "other", got "storefront-5012345678901"` + "\n" +
		`     route "erp-sales-order" items[0].unitPrice: expected "19.98", got "19.99"` + "\n" +
		"2 passed, 1 failed\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestTestCommandErrors(t *testing.T) {
	dir := t.TempDir()
	noTests := filepath.Join(dir, "none.json")
	os.WriteFile(noTests, []byte(`{"formatVersion":1,"name":"n","source":{"system":"s","event":"e"},"targets":[{"name":"t","kind":"capture"}],"routes":[{"name":"r","target":"t","mapping":[]}]}`), 0o644)
	var out bytes.Buffer
	if err := runTest(context.Background(), []string{noTests}, &out, &bytes.Buffer{}); err != nil || !strings.Contains(out.String(), "no test cases") {
		t.Errorf("no tests: %v %s", err, out.String())
	}
	badInput := filepath.Join(dir, "bad-input.json")
	os.WriteFile(badInput, []byte(`{"formatVersion":1,"name":"n","source":{"system":"s","event":"e"},"targets":[{"name":"t","kind":"capture"}],"routes":[{"name":"r","target":"t","mapping":[]}],"tests":[{"name":"big","input":"`+strings.Repeat("x", 1<<20)+`","expect":{}}]}`), 0o644)
	out.Reset()
	if err := runTest(context.Background(), []string{badInput}, &out, &bytes.Buffer{}); !errors.Is(err, errFailures) || !strings.Contains(out.String(), "limit exceeded") {
		t.Errorf("limit: %v %.200s", err, out.String())
	}
	for _, args := range [][]string{{}, {"--bogus"}, {filepath.Join(dir, "missing.json")}, {noTests, "--lookup", "x"}} {
		if err := runTest(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || errors.Is(err, errFailures) {
			t.Errorf("%v: %v", args, err)
		}
	}
	if err := runTest(context.Background(), []string{"--help"}, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Errorf("--help: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := runTest(ctx, []string{noTests}, &bytes.Buffer{}, &bytes.Buffer{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestTestCommandMappingErrorExpectation(t *testing.T) {
	const flow = `{"formatVersion":1,"name":"unit-price","source":{"system":"oms","event":"line"},
	"targets":[{"name":"erp","kind":"capture"}],
	"routes":[{"name":"erp","target":"erp","mapping":[{"target":"id","expr":"source.id"},{"target":"unitPrice","expr":"decDiv(source.total, source.qty, 2)"}]}],
	"tests":[
	 {"name":"zero quantity is a mapping exception","input":{"id":"a","total":"10","qty":"0"},
	  "expect":{"mappingError":{"pointer":"/routes/0/mapping/1","contains":"division by zero"}}},
	 {"name":"expects the wrong row","input":{"id":"a","total":"10","qty":"0"},
	  "expect":{"mappingError":{"pointer":"/routes/0/mapping/0"}}},
	 {"name":"expects a failure that does not happen","input":{"id":"b","total":"10","qty":"4"},
	  "expect":{"mappingError":{"contains":"division by zero"}}}
	]}`
	path := filepath.Join(t.TempDir(), "flow.json")
	if err := os.WriteFile(path, []byte(flow), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := runTest(context.Background(), []string{"-v", path}, &out, &bytes.Buffer{})
	if !errors.Is(err, errFailures) {
		t.Fatalf("err = %v", err)
	}
	want := "ok   " + path + ": zero quantity is a mapping exception\n" +
		"FAIL " + path + ": expects the wrong row\n" +
		"     mappingError: expected a mapping error at /routes/0/mapping/0, got /routes/0/mapping/1/expr: decDiv: division by zero (1:1)\n" +
		"FAIL " + path + ": expects a failure that does not happen\n" +
		`     mappingError: expected a mapping error containing "division by zero", but mapping succeeded` + "\n" +
		"1 passed, 2 failed\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
