package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/crossdock/crossdock/engine"
)

const storefrontFlow = "../../engine/testdata/flows/storefront-order-to-erp.json"

func storefrontSample(t *testing.T) ([]byte, *engine.Definition) {
	t.Helper()
	data, err := os.ReadFile(storefrontFlow)
	if err != nil {
		t.Fatal(err)
	}
	def, err := engine.ParseDefinition(data)
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, def.Source.Samples[0].Payload); err != nil {
		t.Fatal(err)
	}
	return compact.Bytes(), def
}

func runMapString(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runMap(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestMapMatchesTheDefinitionsTestCase(t *testing.T) {
	sample, def := storefrontSample(t)
	tc := def.Tests[0] // the same payload, now and vars
	out, _, err := runMapString(t, string(sample)+"\n", "--flow", storefrontFlow, "--route", "erp-sales-order", "--var", "ERP_COMPANY=1000", "--now", tc.Now)
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	_ = json.Unmarshal(tc.Expect.Routes["erp-sales-order"], &want)
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if !bytes.Equal(gb, wb) {
		t.Errorf("map output differs from the test case:\n%s\n%s", gb, wb)
	}
	if !strings.HasPrefix(out, `{"orderType":"ZWEB","externalReference":"1001"`) {
		t.Errorf("keys not in definition order: %.80s", out)
	}
}

func TestMapKeepsOrderAndReportsFailedLines(t *testing.T) {
	sample, _ := storefrontSample(t)
	var in strings.Builder
	const n = 2000
	for i := 0; i < n; i++ {
		switch i {
		case 7:
			in.WriteString("{not json\n")
		case 8:
			in.WriteString("\n")
		case 1500:
			in.WriteString(strings.Replace(string(sample), `"line_items":[`, `"line_items":[],"x":[`, 1) + "\n")
		default:
			in.WriteString(strings.Replace(string(sample), `"name":"#1001"`, fmt.Sprintf(`"name":"#%d"`, 100000+i), 1) + "\n")
		}
	}
	out, errOut, err := runMapString(t, in.String(), "--flow", storefrontFlow, "--var", "ERP_COMPANY=1000", "--workers", "4")
	if !errors.Is(err, errFailures) {
		t.Fatalf("err = %v", err)
	}
	if errOut != "crossdock map: 3 of 2000 lines failed\n" {
		t.Errorf("stderr = %q", errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d output lines for %d input lines", len(lines), n)
	}
	for i, l := range lines {
		switch i {
		case 7:
			if !strings.HasPrefix(l, `{"line":8,"error":"invalid input: `) {
				t.Errorf("line 8: %s", l)
			}
		case 8:
			if l != `{"line":9,"error":"empty line"}` {
				t.Errorf("line 9: %s", l)
			}
		case 1500:
			if l != `{"line":1501,"error":"validation has-lines: The order has no line items."}` {
				t.Errorf("line 1501: %s", l)
			}
		default:
			if !strings.HasPrefix(l, fmt.Sprintf(`{"erp-sales-order":{"orderType":"ZWEB","externalReference":"%d"`, 100000+i)) {
				t.Fatalf("line %d out of order or wrong: %.100s", i+1, l)
			}
		}
	}
}

func TestMapRouteNotMatchedLookupCSVAndRowErrors(t *testing.T) {
	sample, _ := storefrontSample(t)
	out, _, err := runMapString(t, string(sample)+"\n", "--flow", storefrontFlow, "--route", "crm-vip", "--var", "ERP_COMPANY=1")
	if err != nil || out != "null\n" {
		t.Errorf("unmatched route: %q %v", out, err)
	}
	dir := t.TempDir()
	csv := filepath.Join(dir, "plant.csv")
	os.WriteFile(csv, []byte("store,salesOrg,plant,distributionChannel\nstore-berlin,XX01,P999,99\n"), 0o644)
	out, _, err = runMapString(t, string(sample)+"\n", "--flow", storefrontFlow, "--route", "erp-sales-order", "--var", "ERP_COMPANY=1", "--lookup", "plant="+csv)
	if err != nil || !strings.Contains(out, `"salesOrg":"XX01"`) || !strings.Contains(out, `"plant":"P999"`) {
		t.Errorf("CSV lookup not used: %.300s %v", out, err)
	}
	// Without --var the env() row fails and the line names the row.
	out, _, err = runMapString(t, string(sample)+"\n", "--flow", storefrontFlow)
	if !errors.Is(err, errFailures) || !strings.Contains(out, `row \"erp-sales-order\" companyCode: env: variable \"ERP_COMPANY\" is not set`) {
		t.Errorf("row failure: %s %v", out, err)
	}
}

func TestMapUsageErrors(t *testing.T) {
	dir := t.TempDir()
	badCSV := filepath.Join(dir, "bad.csv")
	os.WriteFile(badCSV, []byte("onlyone\n"), 0o644)
	badDef := filepath.Join(dir, "bad.json")
	os.WriteFile(badDef, []byte(`{"formatVersion":1}`), 0o644)
	for _, args := range [][]string{
		{},
		{"--flow", storefrontFlow, "extra"},
		{"--flow", storefrontFlow, "--now", "yesterday"},
		{"--flow", storefrontFlow, "--var", "NOEQUALS"},
		{"--flow", storefrontFlow, "--var", "A=1", "--var", "A=2"},
		{"--flow", storefrontFlow, "--workers", "0"},
		{"--flow", storefrontFlow, "--route", "nope"},
		{"--flow", storefrontFlow, "--lookup", "plant=" + filepath.Join(dir, "missing.csv")},
		{"--flow", storefrontFlow, "--lookup", "plant=" + badCSV},
		{"--flow", filepath.Join(dir, "missing.json")},
		{"--flow", badDef},
		{"--no-such-flag"},
	} {
		_, _, err := runMapString(t, "", args...)
		if err == nil || errors.Is(err, errFailures) {
			t.Errorf("%v: err = %v", args, err)
		}
	}
	if _, _, err := runMapString(t, "", "-h"); err != nil {
		t.Errorf("-h: %v", err)
	}
	// A definition that does not compile names the file and the problem.
	_, _, err := runMapString(t, "", "--flow", badDef)
	if !strings.Contains(err.Error(), "bad.json") || !strings.Contains(err.Error(), "missing properties") {
		t.Errorf("bad definition: %v", err)
	}
}

func TestMapCancelled(t *testing.T) {
	sample, _ := storefrontSample(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	err := runMap(ctx, []string{"--flow", storefrontFlow, "--var", "ERP_COMPANY=1"}, strings.NewReader(strings.Repeat(string(sample)+"\n", 1000)), &out, &errOut)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestMapWriteError(t *testing.T) {
	sample, _ := storefrontSample(t)
	err := runMap(context.Background(), []string{"--flow", storefrontFlow, "--var", "ERP_COMPANY=1"}, strings.NewReader(strings.Repeat(string(sample)+"\n", 2000)), failingWriter{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err = %v", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestMapReadError(t *testing.T) {
	err := runMap(context.Background(), []string{"--flow", storefrontFlow}, failingReader{}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("err = %v", err)
	}
}

// TestDefinitionFormatDocExamples runs the commands shown in
// docs/definition-format.md on the files shown there and requires the
// documented output, so the documentation cannot drift from the program.
func TestDefinitionFormatDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/definition-format.md")
	if err != nil {
		t.Fatal(err)
	}
	block := func(after int) string {
		rest := string(doc[after:])
		start := strings.Index(rest, "```")
		body := rest[start:]
		body = body[strings.Index(body, "\n")+1:]
		return body[:strings.Index(body, "```")]
	}
	dir := t.TempDir()
	type run struct{ cmd, want string }
	var runs []run
	for i := 0; ; {
		j := strings.Index(string(doc[i:]), "<!-- ")
		if j < 0 {
			break
		}
		i += j
		end := i + strings.Index(string(doc[i:]), " -->")
		marker := string(doc[i+5 : end])
		switch {
		case strings.HasPrefix(marker, "file: "):
			if err := os.WriteFile(filepath.Join(dir, strings.TrimPrefix(marker, "file: ")), []byte(block(end)), 0o644); err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(marker, "run: "):
			runs = append(runs, run{strings.TrimPrefix(marker, "run: "), block(end)})
		}
		i = end
	}
	if len(runs) != 2 {
		t.Fatalf("found %d documented commands, want 2", len(runs))
	}
	t.Chdir(dir)
	for _, r := range runs {
		fields := strings.Fields(r.cmd)
		var stdin io.Reader = strings.NewReader("")
		if n := len(fields); n > 2 && fields[n-2] == "<" {
			f, err := os.Open(fields[n-1])
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			stdin, fields = f, fields[:n-2]
		}
		var out bytes.Buffer
		var err error
		switch fields[1] {
		case "map":
			err = runMap(context.Background(), fields[2:], stdin, &out, io.Discard)
		case "test":
			err = runTest(context.Background(), fields[2:], &out, io.Discard)
		}
		if err != nil && !errors.Is(err, errFailures) {
			t.Fatalf("%s: %v", r.cmd, err)
		}
		if out.String() != r.want {
			t.Errorf("%s\ngot:\n%s\ndocumented:\n%s", r.cmd, out.String(), r.want)
		}
	}
}

// TestMapReportsALineOverTheLimitAndGoesOn: a line longer than
// --max-line-bytes is an error line naming its size and the flag; the
// lines after it are mapped; CRLF line ends and a last line without one
// are read as lines.
func TestMapReportsALineOverTheLimitAndGoesOn(t *testing.T) {
	sample, _ := storefrontSample(t)
	long := strings.Replace(string(sample), `"note":`, `"padding":"`+strings.Repeat("x", 3*64*1024)+`","note":`, 1)
	if long == string(sample) {
		long = `{"padding":"` + strings.Repeat("x", 3*64*1024) + `"}`
	}
	in := string(sample) + "\r\n" + long + "\n" + string(sample)
	t.Run("over a small limit", func(t *testing.T) {
		out, _, err := runMapString(t, in, "--flow", storefrontFlow, "--var", "ERP_COMPANY=1000", "--max-line-bytes", strconv.Itoa(len(sample)+1))
		if !errors.Is(err, errFailures) {
			t.Fatalf("err = %v", err)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("%d output lines: %.300s", len(lines), out)
		}
		want := fmt.Sprintf(`{"line":2,"error":"the line is %d bytes; lines of at most %d are mapped (--max-line-bytes)"}`, len(long), len(sample)+1)
		if lines[1] != want {
			t.Errorf("line 2: %s, want %s", lines[1], want)
		}
		for _, i := range []int{0, 2} {
			if !strings.HasPrefix(lines[i], `{"erp-sales-order":`) {
				t.Errorf("line %d not mapped: %.100s", i+1, lines[i])
			}
		}
	})
	t.Run("within the default limit", func(t *testing.T) {
		out, _, err := runMapString(t, in, "--flow", storefrontFlow, "--var", "ERP_COMPANY=1000")
		if err != nil && !errors.Is(err, errFailures) {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(out, "--max-line-bytes") {
			t.Errorf("a line under 1 MiB was refused: %.300s", out)
		}
	})
	t.Run("the flag must be positive", func(t *testing.T) {
		_, _, err := runMapString(t, "", "--flow", storefrontFlow, "--max-line-bytes", "0")
		if err == nil || !strings.Contains(err.Error(), "--max-line-bytes must be at least 1") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestMapStepsWithRecordedResponses: --responses maps the steps after a
// recorded answer, and refuses a file naming no route or step of the flow.
func TestMapStepsWithRecordedResponses(t *testing.T) {
	dir := t.TempDir()
	flow := filepath.Join(dir, "flow.json")
	def := `{"formatVersion": 1, "name": "wb", "source": {"system": "s", "event": "e"},
	  "targets": [{"name": "erp", "kind": "http"}, {"name": "oms", "kind": "http"}],
	  "routes": [{"name": "erp", "target": "erp", "mapping": [{"target": "id", "expr": "source.id"}],
	    "then": [{"name": "writeback", "target": "oms", "mapping": [{"target": "id", "expr": "source.id"}, {"target": "doc", "expr": "response.body.doc"}]}]}]}`
	if err := os.WriteFile(flow, []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("steps after a recorded answer", func(t *testing.T) {
		answers := write("answers.json", `{"erp": {"status": 201, "body": {"doc": "D-9"}}}`)
		out, _, err := runMapString(t, `{"id": "A"}`+"\n", "--flow", flow, "--responses", answers)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"erp":{"id":"A"},"writeback":{"id":"A","doc":"D-9"}}` + "\n"; out != want {
			t.Errorf("got %q, want %q", out, want)
		}
	})

	t.Run("--route names a step", func(t *testing.T) {
		answers := write("answers.json", `{"erp": {"status": 201, "body": {"doc": "D-9"}}}`)
		out, _, err := runMapString(t, `{"id": "A"}`+"\n", "--flow", flow, "--responses", answers, "--route", "writeback")
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"id":"A","doc":"D-9"}` + "\n"; out != want {
			t.Errorf("got %q, want %q", out, want)
		}
	})

	t.Run("an unknown name", func(t *testing.T) {
		answers := write("bad.json", `{"erpp": {"status": 201}}`)
		_, _, err := runMapString(t, "", "--flow", flow, "--responses", answers)
		if err == nil || !strings.Contains(err.Error(), `"erpp", which is neither a route nor a step`) {
			t.Errorf("got %v", err)
		}
	})

	t.Run("not an object of responses", func(t *testing.T) {
		answers := write("bad.json", `[1]`)
		_, _, err := runMapString(t, "", "--flow", flow, "--responses", answers)
		if err == nil || !strings.Contains(err.Error(), "is not an object of responses by name") {
			t.Errorf("got %v", err)
		}
	})
}
