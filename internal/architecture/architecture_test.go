// Package architecture holds the test that keeps Crossdock's imports
// pointing one way: cmd → web → jobs/* → mappings/* → engine, with account
// and the internal/* helpers below the layers that use them. The rules are
// data (rules); check applies them to an import graph; the graph comes
// from `go list`, production and test imports alike.
package architecture

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rule says which project packages the packages matching pkgs may import.
// Patterns are paths relative to the module: "engine" is that package,
// "mappings/..." is mappings and every package under it. A package's own
// imports of itself (its external test package) are always allowed.
type rule struct {
	pkgs string
	may  []string
	// tests are what the package's tests may import besides may: test
	// support above the package (jobs/jobstest runs the whole River
	// client) and, where a test reads an outcome through it, a package
	// beside it.
	tests []string
	why   string
}

// testSupport are the packages that set tests up. Only tests and other
// test support may import them, so no test fixture reaches the program.
var testSupport = []string{"internal/dbtest", "jobs/jobstest"}

// jobsTests is what the tests of a package inside jobs may import besides
// its rule's may.
var jobsTests = []string{"jobs/jobstest"}

// rules are checked in order; the first whose pkgs matches a package
// decides. A package no rule matches is a violation of its own, so a new
// top-level package needs a rule before it can land.
var rules = []rule{
	{pkgs: "engine/...", may: []string{"engine/..."},
		why: "engine is pure: definitions in, programs and results out; it imports no project package outside engine"},
	{pkgs: "internal/...", may: []string{"internal/...", "migrations"},
		why: "internal/* helpers sit below every layer; they may use each other and the schema (migrations, which imports nothing), never a layer"},
	{pkgs: "migrations", may: nil,
		why: "migrations is the embedded schema; it imports no project package"},
	{pkgs: "static", may: nil,
		why: "static is the embedded front-end assets; it imports no project package"},
	{pkgs: "account", may: []string{"internal/..."},
		why: "account (users, roles, API keys, audit) sits below mappings: every layer records who did what"},
	{pkgs: "mappings/...", may: []string{"mappings/...", "engine/...", "account", "internal/..."},
		why: "mappings/* stores and releases definitions; it knows nothing of queues or HTTP"},
	// Inside jobs the packages stack one way: store, queue and program at
	// the bottom, then intake, the pipeline (which enqueues intake's
	// ProcessArgs again), the inbox (which retries through the pipeline);
	// insight only reads. jobs itself, the River wiring, imports them all.
	// Their tests drive messages through the whole client with
	// jobs/jobstest, which imports jobs and so every one of them.
	{pkgs: "jobs/store", may: []string{"internal/..."},
		why: "jobs/store is the message store every jobs package builds on; it imports no jobs package"},
	{pkgs: "jobs/queue", may: []string{"internal/..."},
		why: "jobs/queue names the queues every jobs package enqueues on; it imports no jobs package"},
	{pkgs: "jobs/transport/...", may: []string{"jobs/transport/...", "mappings/...", "engine/...", "internal/..."},
		why: "a transport knows its target kind, not the jobs that use it"},
	{pkgs: "jobs/program", may: []string{"jobs/transport/...", "mappings/...", "engine/...", "internal/..."},
		why: "jobs/program compiles versions for intake, the pipeline and replay; it sits below them"},
	{pkgs: "jobs/intake", may: []string{"jobs/store", "jobs/queue", "jobs/program", "mappings/...", "engine/...", "account", "internal/..."},
		tests: jobsTests,
		why:   "jobs/intake is the way in; it knows nothing of the pipeline, the inbox or insight"},
	{pkgs: "jobs/pipeline", may: []string{"jobs/intake", "jobs/store", "jobs/queue", "jobs/program", "jobs/transport/...", "mappings/...", "engine/...", "account", "internal/..."},
		// A test of the orphan check finds the messages it failed with the
		// explorer's search: processing indexes their payload values.
		tests: append([]string{"jobs/insight"}, jobsTests...),
		why:   "jobs/pipeline processes and delivers; the inbox and insight build on it, not it on them"},
	{pkgs: "jobs/inbox", may: []string{"jobs/pipeline", "jobs/intake", "jobs/store", "jobs/queue", "jobs/program", "jobs/transport/...", "mappings/...", "engine/...", "account", "internal/..."},
		tests: jobsTests,
		why:   "jobs/inbox works exceptions through the pipeline; only the River wiring imports it"},
	{pkgs: "jobs/insight", may: []string{"jobs/store", "jobs/queue", "mappings/...", "engine/...", "account", "internal/..."},
		tests: jobsTests,
		why:   "jobs/insight reads what the other jobs packages write; none of them imports it but the River wiring"},
	{pkgs: "jobs/jobstest", may: []string{"jobs/...", "mappings/...", "engine/...", "account", "internal/..."},
		why: "jobs/jobstest sets up the jobs packages' tests on the whole River client; it knows nothing of HTTP"},
	{pkgs: "jobs/...", may: []string{"jobs/...", "mappings/...", "engine/...", "account", "internal/..."},
		why: "jobs/* runs messages through the mappings; it knows nothing of HTTP"},
	{pkgs: "web/...", may: []string{"web/...", "jobs/...", "mappings/...", "engine/...", "account", "internal/...", "static"},
		why: "web is the top layer below cmd: nothing but cmd imports it"},
	{pkgs: "cmd/...", may: []string{"web/...", "jobs/...", "mappings/...", "engine/...", "account", "internal/...", "migrations", "static"},
		why: "cmd wires everything; nothing imports cmd"},
	{pkgs: "e2e", may: []string{"jobs/...", "mappings/...", "engine/...", "account", "internal/...", "migrations"},
		why: "e2e drives the real program over HTTP; it may set up and read state through the layers below web"},
	{pkgs: "scripts/...", may: []string{"jobs/...", "mappings/...", "engine/...", "account", "internal/...", "migrations"},
		why: "scripts are tools that drive the program from outside, like e2e; never through web or cmd"},
}

// pkg is one node of the import graph: its path relative to the module
// and the project packages it and its tests import, also relative.
type pkg struct {
	path        string
	imports     []string
	testImports []string
}

// violation is one import against the rules.
type violation struct {
	from, to string
	test     bool
	why      string
}

func (v violation) String() string {
	kind := "imports"
	if v.test {
		kind = "imports in its tests"
	}
	if v.to == "" {
		return fmt.Sprintf("%s: %s", v.from, v.why)
	}
	return fmt.Sprintf("%s %s %s: %s", v.from, kind, v.to, v.why)
}

// match reports whether path matches pattern ("x" or "x/...").
func match(pattern, path string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

// ruleFor returns the first rule matching path.
func ruleFor(rs []rule, path string) (rule, bool) {
	for _, r := range rs {
		if match(r.pkgs, path) {
			return r, true
		}
	}
	return rule{}, false
}

// check returns every import in pkgs that rs do not allow, every import
// of test support outside tests and test support, and every package rs
// say nothing about.
func check(rs []rule, support []string, pkgs []pkg) []violation {
	var out []violation
	matches := func(patterns []string, path string) bool {
		return slices.ContainsFunc(patterns, func(pattern string) bool { return match(pattern, path) })
	}
	for _, p := range pkgs {
		r, ok := ruleFor(rs, p.path)
		if !ok {
			out = append(out, violation{from: p.path, why: "no rule says what this package may import; add one to rules"})
			continue
		}
		for _, to := range p.imports {
			switch {
			case to != p.path && !matches(r.may, to):
				out = append(out, violation{from: p.path, to: to, why: r.why})
			case matches(support, to) && !matches(support, p.path):
				out = append(out, violation{from: p.path, to: to, why: to + " sets up tests; only tests import it"})
			}
		}
		for _, to := range p.testImports {
			if to != p.path && !matches(r.may, to) && !matches(r.tests, to) {
				out = append(out, violation{from: p.path, to: to, test: true, why: r.why})
			}
		}
	}
	return out
}

// load lists the module's packages with `go list` and keeps the imports
// of project packages.
func load(t *testing.T) []pkg {
	t.Helper()
	module, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	path, dir, _ := strings.Cut(strings.TrimSpace(string(module)), " ")
	watch(t, dir)
	prefix := path + "/"
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", prefix+"...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	listing, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	project := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			if rel, ok := strings.CutPrefix(p, prefix); ok {
				out = append(out, rel)
			}
		}
		return out
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(listing))
	for {
		var lp struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
		}
		if err := dec.Decode(&lp); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		rel, ok := strings.CutPrefix(lp.ImportPath, prefix)
		if !ok {
			t.Fatalf("go list listed %s, outside the module %s", lp.ImportPath, prefix)
		}
		pkgs = append(pkgs, pkg{path: rel, imports: project(lp.Imports),
			testImports: project(append(lp.TestImports, lp.XTestImports...))})
	}
	return pkgs
}

// watch reads every directory of the module and stats every Go file in
// it. go test caches a passing result until a file the test itself opened
// or statted changes; the files `go list` reads for it are not among
// those, so without this a cached pass would outlive a new import.
func watch(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") || d.Name() == "go.mod" {
			_, err := os.Stat(p)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
}

func TestImportsFollowTheLayers(t *testing.T) {
	t.Parallel()
	pkgs := load(t)
	var paths []string
	for _, p := range pkgs {
		paths = append(paths, p.path)
	}
	// The graph is the real one, not an empty listing that passes.
	for _, want := range []string{"engine", "mappings", "mappings/release", "jobs", "web", "account", "internal/txn", "cmd/crossdock"} {
		if !slices.Contains(paths, want) {
			t.Fatalf("go list did not list %s; it listed %v", want, paths)
		}
	}
	for _, v := range check(rules, testSupport, pkgs) {
		t.Error(v)
	}
	// Every rule still names a package, so none is left over from a
	// package that moved.
	for _, r := range rules {
		if !slices.ContainsFunc(paths, func(p string) bool { return match(r.pkgs, p) }) {
			t.Errorf("rule for %s matches no package", r.pkgs)
		}
	}
}

func TestCheckFindsEveryImportAgainstTheLayers(t *testing.T) {
	t.Parallel()
	graph := []pkg{
		{path: "engine", testImports: []string{"engine"}},
		{path: "engine/schema", imports: []string{"engine"}},
		{path: "internal/txn"},
		{path: "internal/dbtest", imports: []string{"migrations"}},
		{path: "account", imports: []string{"internal/txn"}},
		{path: "mappings", imports: []string{"engine/...", "account", "internal/txn"}, testImports: []string{"mappings/release", "internal/dbtest"}},
		{path: "mappings/release", imports: []string{"mappings", "account"}},
		{path: "jobs", imports: []string{"mappings", "engine", "jobs/inbox"}},
		{path: "jobs/inbox", imports: []string{"mappings/release"}},
		{path: "web", imports: []string{"jobs", "web/view", "static"}},
		{path: "web/view"},
		{path: "cmd/crossdock", imports: []string{"web", "jobs", "migrations"}},
		{path: "jobs/jobstest", imports: []string{"jobs", "jobs/intake", "internal/dbtest"}},
		{path: "jobs/intake", testImports: []string{"jobs/jobstest", "internal/dbtest"}},
		// Against the rules:
		{path: "internal/metrics", imports: []string{"jobs"}},
		{path: "engine/more", imports: []string{"mappings"}},
		{path: "mappings/release", testImports: []string{"jobs"}},
		{path: "jobs/inbox", imports: []string{"web"}},
		{path: "web/view", imports: []string{"cmd/crossdock"}},
		{path: "account", imports: []string{"mappings"}},
		{path: "tools/gen", imports: []string{"engine"}},
		{path: "jobs/inbox", imports: []string{"jobs/jobstest"}},
		{path: "web", imports: []string{"jobs/jobstest"}},
		{path: "jobs/intake", testImports: []string{"jobs/pipeline"}},
		{path: "mappings", testImports: []string{"jobs/jobstest"}},
	}
	var got []string
	for _, v := range check(rules, testSupport, graph) {
		got = append(got, v.from+" → "+v.to+map[bool]string{true: " (test)"}[v.test])
	}
	want := []string{
		"internal/metrics → jobs",
		"engine/more → mappings",
		"mappings/release → jobs (test)",
		"jobs/inbox → web",
		"web/view → cmd/crossdock",
		"account → mappings",
		"tools/gen → ",
		"jobs/inbox → jobs/jobstest",
		"web → jobs/jobstest",
		"jobs/intake → jobs/pipeline (test)",
		"mappings → jobs/jobstest (test)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations\n got %q\nwant %q", got, want)
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"engine", "engine", true},
		{"engine", "engine/schema", false},
		{"engine/...", "engine/schema", true},
		{"engine", "engines", false},
		{"mappings/...", "mappings", true},
		{"mappings/...", "mappings/release", true},
		{"mappings/...", "mappingsx", false},
		{"internal/...", "internal", true},
		{"internal/...", "account", false},
	} {
		if got := match(c.pattern, c.path); got != c.want {
			t.Errorf("match(%q, %q) = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
}
