package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crossdock/crossdock/engine/format"

	"go.yaml.in/yaml/v3"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/mappings"
)

// An environments-as-code directory (docs/environments-as-code.md):
//
//	flows/<slug>.json|.yaml           a flow's definition
//	environments/<env>.yaml|.json     targets, variables, deployments and
//	                                  flows' local target names of one
//	                                  environment
//
// Everything else at the top is left alone (a README, .git). Files are
// read with limits checked before parsing, and every problem of every file
// is reported at once, as file:line: path: what to fix.

// Limits on a configuration directory, checked before anything is parsed.
const (
	maxConfigFlows    = 500
	maxConfigEnvs     = 32
	maxEnvFileBytes   = 256 << 10
	maxEnvFileDepth   = 9 // document, top, targets, a target, format, csv, columns, a column, a value
	maxFlowYAMLDepth  = 64
	maxSecretBytes    = 64 << 10
	maxConfigProblems = 50
)

// configDir is a directory read and checked, secrets resolved.
type configDir struct {
	path  string
	flows []flowFile // by slug
	envs  []envFile  // by name
}

// flowFile is one flows/<slug> file.
type flowFile struct {
	file string // as reported: flows/<slug>.json
	slug string
	def  *engine.Definition
}

// envFile is one environments/<env> file.
type envFile struct {
	file      string
	name      string
	targets   []targetSpec      // by name
	variables map[string]string // nil: the file has no variables key
	varLines  map[string]int
	// deployments: flow slug → the version to run (0: latest, the version
	// whose definition is the directory's file).
	deployments []deploySpec
	// names: flow slug → local target name → environment target.
	names     map[string]map[string]string
	nameLines map[string]int
}

// targetSpec is one target of an environment file.
type targetSpec struct {
	name, kind string
	line       int
	settings   map[string]string
	// lines says where each setting and policy field is, for problems
	// ("settings.url", "policy.timeout"); "" is the target itself.
	lines map[string]int
	// secretFrom is where the secret comes from ("env:NAME", "file:PATH");
	// secret is what it resolved to. Neither: keep the stored secret.
	secretFrom, secret string
	removeSecret       bool
	policy             policySpec
	// format is the body format; the zero Spec (none given) is json.
	format format.Spec
}

// policySpec is a target's delivery policy as the file gives it; nil
// fields take the defaults.
type policySpec struct {
	timeout, baseDelay, maxDelay, window, openFor *time.Duration
	ratePerSecond                                 *float64
	maxAttempts, failureThreshold                 *int
}

// deploySpec is one deployments entry.
type deploySpec struct {
	flow    string
	version int // 0: latest
	line    int
}

// problems collects what is wrong, file by file.
type problems []string

func (p *problems) add(file string, line int, path, format string, a ...any) {
	where := file
	if line > 0 {
		where += ":" + strconv.Itoa(line)
	}
	if path != "" {
		where += ": " + path
	}
	*p = append(*p, where+": "+fmt.Sprintf(format, a...))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	list := p
	more := ""
	if len(list) > maxConfigProblems {
		list, more = list[:maxConfigProblems], fmt.Sprintf("\n  … and %d more", len(p)-maxConfigProblems)
	}
	return fmt.Errorf("%d problem%s; nothing was changed:\n  %s%s", len(p), plural(len(p)), strings.Join(list, "\n  "), more)
}

// readConfigDir reads dir, resolving secretFrom with getenv and files.
func readConfigDir(dir string, getenv func(string) string) (*configDir, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory; -f takes a directory with flows/ and environments/", dir)
	}
	cd := &configDir{path: dir}
	var ps problems
	flowPaths, err := listConfigFiles(dir, "flows", maxConfigFlows, &ps)
	if err != nil {
		return nil, err
	}
	envPaths, err := listConfigFiles(dir, "environments", maxConfigEnvs, &ps)
	if err != nil {
		return nil, err
	}
	if len(flowPaths) == 0 && len(envPaths) == 0 && len(ps) == 0 {
		return nil, fmt.Errorf("%s has neither flows/ nor environments/ files; see docs/environments-as-code.md for the layout", dir)
	}
	seen := map[string]string{}
	for _, rel := range flowPaths {
		slug := strings.TrimSuffix(filepath.Base(rel), filepath.Ext(rel))
		if other, dup := seen["flow "+slug]; dup {
			ps.add(rel, 0, "", "%s defines flow %s too; keep one file per flow", other, slug)
			continue
		}
		seen["flow "+slug] = rel
		if f, ok := readFlowFile(dir, rel, slug, &ps); ok {
			cd.flows = append(cd.flows, f)
		}
	}
	for _, rel := range envPaths {
		name := strings.TrimSuffix(filepath.Base(rel), filepath.Ext(rel))
		if other, dup := seen["env "+name]; dup {
			ps.add(rel, 0, "", "%s configures environment %s too; keep one file per environment", other, name)
			continue
		}
		seen["env "+name] = rel
		if e, ok := readEnvFile(dir, rel, name, getenv, &ps); ok {
			cd.envs = append(cd.envs, e)
		}
	}
	return cd, ps.err()
}

// listConfigFiles lists sub's .json, .yaml and .yml files, relative to
// dir; other entries are problems (dotfiles aside).
func listConfigFiles(dir, sub string, limit int, ps *problems) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, sub))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		rel := sub + "/" + name
		switch ext := filepath.Ext(name); {
		case strings.HasPrefix(name, "."):
		case !e.Type().IsRegular():
			ps.add(rel, 0, "", "not a file; %s/ holds only .json and .yaml files", sub)
		case ext != ".json" && ext != ".yaml" && ext != ".yml":
			ps.add(rel, 0, "", "not a .json, .yaml or .yml file")
		default:
			out = append(out, rel)
		}
	}
	if len(out) > limit {
		return nil, fmt.Errorf("%s/ holds %d files; at most %d are read", sub, len(out), limit)
	}
	slices.Sort(out)
	return out, nil
}

// readLimited reads a file of at most limit bytes, checking the size
// before reading it.
func readLimited(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%d bytes; at most %d are read", st.Size(), limit)
	}
	return os.ReadFile(path)
}

func readFlowFile(dir, rel, slug string, ps *problems) (flowFile, bool) {
	if err := mappings.CheckSlug(slug); err != nil {
		ps.add(rel, 0, "", "the file name is the flow's slug: lowercase letters, digits and dashes")
		return flowFile{}, false
	}
	data, err := readLimited(filepath.Join(dir, rel), engine.MaxDefinitionBytes)
	if err != nil {
		ps.add(rel, 0, "", "%v", err)
		return flowFile{}, false
	}
	if filepath.Ext(rel) != ".json" {
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			ps.add(rel, 0, "", "not YAML: %v", err)
			return flowFile{}, false
		}
		if d := depth(&doc); d > maxFlowYAMLDepth {
			ps.add(rel, 0, "", "nested %d deep; at most %d", d, maxFlowYAMLDepth)
			return flowFile{}, false
		}
		if hasAlias(&doc) {
			ps.add(rel, 0, "", "YAML anchors and aliases are not supported; write each value out")
			return flowFile{}, false
		}
		var v any
		if err := doc.Decode(&v); err != nil {
			ps.add(rel, 0, "", "%v", err)
			return flowFile{}, false
		}
		if data, err = json.Marshal(v); err != nil {
			ps.add(rel, 0, "", "cannot be a definition: %v", err)
			return flowFile{}, false
		}
	}
	def, err := engine.ParseDefinition(data)
	if err != nil {
		for _, d := range mappings.DiagnosticsOf(err) {
			ps.add(rel, 0, "", "%s", d.String())
		}
		return flowFile{}, false
	}
	if def.Name != slug {
		ps.add(rel, 0, "name", "the definition is named “%s”; the file must be named %s%s, or the name changed to %s", def.Name, def.Name, filepath.Ext(rel), slug)
		return flowFile{}, false
	}
	return flowFile{file: rel, slug: slug, def: def}, true
}

// depth is how deeply n nests.
func depth(n *yaml.Node) int {
	d := 0
	for _, c := range n.Content {
		d = max(d, depth(c))
	}
	return d + 1
}

func hasAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return true
	}
	return slices.ContainsFunc(n.Content, hasAlias)
}

// envReader reads one environment file's nodes, adding problems.
type envReader struct {
	file string
	ps   *problems
}

func (r envReader) fail(n *yaml.Node, path, format string, a ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	r.ps.add(r.file, line, path, format, a...)
}

type entry struct {
	key        string
	keyNode, v *yaml.Node
}

// mapping returns n's entries in order; a null is an empty mapping.
func (r envReader) mapping(n *yaml.Node, path string) ([]entry, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		r.fail(n, path, "a mapping of names to values, not %s", describeNode(n))
		return nil, false
	}
	var out []entry
	seen := map[string]bool{}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			r.fail(k, path, "keys are names, not %s", describeNode(k))
			ok = false
			continue
		}
		if seen[k.Value] {
			r.fail(k, join(path, k.Value), "given twice")
			ok = false
			continue
		}
		seen[k.Value] = true
		out = append(out, entry{key: k.Value, keyNode: k, v: v})
	}
	return out, ok
}

// scalar is n's text as written (a number stays as written: 1.50 is
// "1.50"); a null is "".
func (r envReader) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		r.fail(n, path, "a single value, not %s", describeNode(n))
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "“" + n.Value + "”"
	}
	return "that"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// unknownKey reports a key the file format does not have.
func (r envReader) unknownKey(e entry, path string, known ...string) {
	r.fail(e.keyNode, join(path, e.key), "unknown key; known keys here: %s", strings.Join(known, ", "))
}

func readEnvFile(dir, rel, name string, getenv func(string) string, ps *problems) (envFile, bool) {
	data, err := readLimited(filepath.Join(dir, rel), maxEnvFileBytes)
	if err != nil {
		ps.add(rel, 0, "", "%v", err)
		return envFile{}, false
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		ps.add(rel, 0, "", "not YAML or JSON: %v", err)
		return envFile{}, false
	}
	if d := depth(&doc); d > maxEnvFileDepth {
		ps.add(rel, 0, "", "nested %d deep; an environment file is at most %d", d, maxEnvFileDepth)
		return envFile{}, false
	}
	if hasAlias(&doc) {
		ps.add(rel, 0, "", "YAML anchors and aliases are not supported; write each value out")
		return envFile{}, false
	}
	r := envReader{file: rel, ps: ps}
	before := len(*ps)
	e := envFile{file: rel, name: name}
	var top []entry
	if len(doc.Content) > 0 {
		var ok bool
		if top, ok = r.mapping(doc.Content[0], ""); !ok {
			return envFile{}, false
		}
	}
	for _, t := range top {
		switch t.key {
		case "targets":
			e.targets = r.targets(t.v, getenv)
		case "variables":
			e.variables, e.varLines = r.variables(t.v)
		case "deployments":
			e.deployments = r.deployments(t.v)
		case "flows":
			e.names, e.nameLines = r.flowNames(t.v)
		default:
			r.unknownKey(t, "", "targets", "variables", "deployments", "flows")
		}
	}
	return e, len(*ps) == before
}

func (r envReader) targets(n *yaml.Node, getenv func(string) string) []targetSpec {
	entries, _ := r.mapping(n, "targets")
	var out []targetSpec
	for _, te := range entries {
		path := "targets." + te.key
		t := targetSpec{name: te.key, line: te.keyNode.Line, lines: map[string]int{"": te.keyNode.Line}}
		fields, ok := r.mapping(te.v, path)
		if !ok {
			continue
		}
		for _, f := range fields {
			fp := join(path, f.key)
			switch f.key {
			case "kind":
				t.kind, _ = r.scalar(f.v, fp)
			case "settings":
				settings, _ := r.mapping(f.v, fp)
				t.settings = map[string]string{}
				for _, s := range settings {
					t.settings[s.key], _ = r.scalar(s.v, join(fp, s.key))
					t.lines["settings."+s.key] = s.keyNode.Line
				}
			case "secretFrom":
				t.secretFrom, _ = r.scalar(f.v, fp)
				t.lines["secretFrom"] = f.keyNode.Line
				if t.secretFrom != "" {
					var err error
					if t.secret, err = resolveSecret(t.secretFrom, getenv); err != nil {
						r.fail(f.keyNode, fp, "%v", err)
					}
				}
			case "removeSecret":
				v, _ := r.scalar(f.v, fp)
				switch v {
				case "true":
					t.removeSecret = true
				case "false", "":
				default:
					r.fail(f.v, fp, "true or false")
				}
			case "policy":
				t.policy = r.policy(f.v, fp, t.lines)
			case "format":
				t.format = r.format(f.keyNode, f.v, fp)
				t.lines["format"] = f.keyNode.Line
			default:
				r.unknownKey(f, path, "kind", "settings", "secretFrom", "removeSecret", "policy", "format")
			}
		}
		if t.removeSecret && t.secretFrom != "" {
			r.fail(te.keyNode, path, "either secretFrom or removeSecret, not both")
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b targetSpec) int { return strings.Compare(a.name, b.name) })
	return out
}

// format reads a target's body format (engine/format.Spec, the JSON
// API's keys); an unknown key is a problem, what the values mean is
// release.TargetConfig.Check's to say.
func (r envReader) format(key, n *yaml.Node, path string) format.Spec {
	var spec format.Spec
	raw, err := yaml.Marshal(n)
	if err == nil {
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		err = dec.Decode(&spec)
	}
	if err != nil {
		r.fail(key, path, "a format like {kind: xml, xml: {root: Order}} or {kind: csv, csv: {columns: [{header: SKU, path: lines.sku}]}}: %v", err)
	}
	return spec
}

// policyKeys are the delivery policy's keys, as the JSON API names them.
var policyKeys = []string{"timeout", "ratePerSecond", "maxAttempts", "baseDelay", "maxDelay", "window", "failureThreshold", "openFor"}

func (r envReader) policy(n *yaml.Node, path string, lines map[string]int) policySpec {
	var p policySpec
	fields, _ := r.mapping(n, path)
	for _, f := range fields {
		fp := join(path, f.key)
		lines["policy."+f.key] = f.keyNode.Line
		v, ok := r.scalar(f.v, fp)
		if !ok {
			continue
		}
		dur := func(dst **time.Duration) {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				r.fail(f.v, fp, "“%s” is not a duration such as 500ms, 30s or 5m", v)
				return
			}
			*dst = &d
		}
		count := func(dst **int) {
			i, err := strconv.Atoi(v)
			if err != nil || i < 0 || i > math.MaxInt32 {
				r.fail(f.v, fp, "“%s” is not a whole number from 0 to %d", v, math.MaxInt32)
				return
			}
			*dst = &i
		}
		switch f.key {
		case "timeout":
			dur(&p.timeout)
		case "baseDelay":
			dur(&p.baseDelay)
		case "maxDelay":
			dur(&p.maxDelay)
		case "window":
			dur(&p.window)
		case "openFor":
			dur(&p.openFor)
		case "maxAttempts":
			count(&p.maxAttempts)
		case "failureThreshold":
			count(&p.failureThreshold)
		case "ratePerSecond":
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || x < 0 || math.IsInf(x, 0) {
				r.fail(f.v, fp, "“%s” is not a number of requests per second (0: unlimited)", v)
				continue
			}
			p.ratePerSecond = &x
		default:
			r.unknownKey(f, path, policyKeys...)
		}
	}
	return p
}

func (r envReader) variables(n *yaml.Node) (map[string]string, map[string]int) {
	entries, _ := r.mapping(n, "variables")
	vars, lines := map[string]string{}, map[string]int{}
	for _, v := range entries {
		vars[v.key], _ = r.scalar(v.v, "variables."+v.key)
		lines[v.key] = v.keyNode.Line
	}
	return vars, lines
}

func (r envReader) deployments(n *yaml.Node) []deploySpec {
	entries, _ := r.mapping(n, "deployments")
	var out []deploySpec
	for _, d := range entries {
		path := "deployments." + d.key
		v, ok := r.scalar(d.v, path)
		if !ok {
			continue
		}
		spec := deploySpec{flow: d.key, line: d.keyNode.Line}
		if v != "latest" {
			n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
			if err != nil || n < 1 || n > math.MaxInt32 {
				r.fail(d.v, path, "a version number such as 3, or latest (the version of flows/%s)", d.key)
				continue
			}
			spec.version = n
		}
		out = append(out, spec)
	}
	slices.SortFunc(out, func(a, b deploySpec) int { return strings.Compare(a.flow, b.flow) })
	return out
}

func (r envReader) flowNames(n *yaml.Node) (map[string]map[string]string, map[string]int) {
	entries, _ := r.mapping(n, "flows")
	out, lines := map[string]map[string]string{}, map[string]int{}
	for _, f := range entries {
		path := "flows." + f.key
		lines[f.key] = f.keyNode.Line
		fields, ok := r.mapping(f.v, path)
		if !ok {
			continue
		}
		names := map[string]string{}
		for _, k := range fields {
			if k.key != "targets" {
				r.unknownKey(k, path, "targets")
				continue
			}
			targets, _ := r.mapping(k.v, path+".targets")
			for _, t := range targets {
				names[t.key], _ = r.scalar(t.v, path+".targets."+t.key)
			}
		}
		out[f.key] = names
	}
	return out, lines
}

// resolveSecret reads a secretFrom reference: env:NAME (an environment
// variable of the apply command) or file:PATH (relative to the current
// directory; one trailing newline is dropped).
func resolveSecret(from string, getenv func(string) string) (string, error) {
	kind, ref, _ := strings.Cut(from, ":")
	switch kind {
	case "env":
		if ref == "" {
			return "", errors.New("env: needs a variable name, e.g. env:ERP_TOKEN")
		}
		v := getenv(ref)
		if v == "" {
			return "", fmt.Errorf("the environment variable %s is not set; export it before applying", ref)
		}
		return v, nil
	case "file":
		if ref == "" {
			return "", errors.New("file: needs a path, e.g. file:/run/secrets/erp-token")
		}
		data, err := readLimited(ref, maxSecretBytes)
		if err != nil {
			return "", fmt.Errorf("the secret file %s: %v", ref, err)
		}
		s := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
		if s == "" {
			return "", fmt.Errorf("the secret file %s is empty", ref)
		}
		return s, nil
	}
	return "", fmt.Errorf("“%s” is not a secret reference: write env:NAME or file:PATH; secrets are never written in the file", from)
}
