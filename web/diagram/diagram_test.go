package diagram

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/crossdock/crossdock/engine"
)

var update = flag.Bool("update", false, "rewrite testdata/*.svg from the current output")

// goldenCases are the diagrams kept as testdata/<name>.svg: the five example
// flows, a flow with no routes and one with twelve (highlighted and linked).
func goldenCases(t *testing.T) map[string]func() (*engine.Definition, Options) {
	t.Helper()
	cases := map[string]func() (*engine.Definition, Options){
		"no-routes": func() (*engine.Definition, Options) {
			return &engine.Definition{FormatVersion: 1, Name: "blank", Source: engine.Source{System: "storefront", Event: "order.created"}}, Options{}
		},
		"twelve-routes": func() (*engine.Definition, Options) { return twelveRoutes() },
	}
	flows, err := filepath.Glob(filepath.Join("..", "..", "engine", "testdata", "flows", "*.json"))
	if err != nil || len(flows) != 5 {
		t.Fatalf("want the five example flows, found %d: %v", len(flows), err)
	}
	for _, path := range flows {
		cases[strings.TrimSuffix(filepath.Base(path), ".json")] = func() (*engine.Definition, Options) {
			return readDefinition(t, path), Options{}
		}
	}
	return cases
}

// twelveRoutes is a flow with many routes: several share a target, one
// names a target the definition does not declare, one has a name too long
// for its box, and the selected sample matched some of them.
func twelveRoutes() (*engine.Definition, Options) {
	def := &engine.Definition{
		FormatVersion: 1, Name: "order-fan-out",
		Source:     engine.Source{System: "oms", Event: "order.released"},
		Validation: []engine.Rule{{Name: "has-lines", Rule: "len(source.lines) > 0", Message: "no lines"}},
		Targets: []engine.Target{
			{Name: "erp-sales-orders", Kind: engine.TargetHTTP, Method: "POST"},
			{Name: "warehouse-east", Kind: engine.TargetHTTP, Method: "PUT"},
			{Name: "warehouse-west", Kind: engine.TargetHTTP, Method: "PUT"},
			{Name: "audit", Kind: engine.TargetCapture},
		},
	}
	opts := Options{ID: "fan-out", Matched: map[string]bool{}, RouteLinks: map[string]string{}}
	for i := range 12 {
		name := fmt.Sprintf("route-%02d", i+1)
		when := fmt.Sprintf("source.region == %q", []string{"east", "west", "north"}[i%3])
		target := []string{"warehouse-east", "warehouse-west", "audit"}[i%3]
		switch i {
		case 0:
			name, when, target = "erp-sales-order", "", "erp-sales-orders"
		case 4:
			name = "a-route-name-far-too-long-to-fit-into-its-box-in-the-diagram"
		case 7:
			when = "any(source.lines, .sku startsWith \"GIFT-\" && .quantity > 0 && .price == \"0.00\")"
		case 11:
			target = "crm-events" // not declared
		}
		def.Routes = append(def.Routes, engine.Route{Name: name, When: when, Target: target,
			Mapping: []engine.Row{{Target: "id", Expr: "source.id"}, {Target: "lines", ForEach: "source.lines", Rows: []engine.Row{{Target: "sku", Expr: "item.sku"}}}}[:1+i%2]})
		opts.Matched[name] = i%3 == 0
		opts.RouteLinks[name] = "#route-" + name
	}
	return def, opts
}

func TestGolden(t *testing.T) {
	for name, build := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			def, opts := build()
			got := SVG(def, opts) + "\n"
			path := filepath.Join("testdata", name+".svg")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s; run with -update and review the picture", name, path)
			}
			if again := SVG(def, opts) + "\n"; again != got {
				t.Error("two renderings of the same definition differ")
			}
		})
	}
}

// TestWellFormed reads every golden diagram through encoding/xml from the
// first token to the last, and checks the accessible skeleton: an <svg
// role="img"> whose first children are <title> and <desc>.
func TestWellFormed(t *testing.T) {
	for name, build := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			def, opts := build()
			checkDocument(t, SVG(def, opts))
		})
	}
}

func checkDocument(t *testing.T, doc string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	dec.Strict = true
	var elements []string
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg" || attr(tok, "role") != "img" {
					t.Errorf("root is %v, want an <svg role=img> in the SVG namespace", tok)
				}
			}
			if depth == 1 {
				elements = append(elements, tok.Name.Local)
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 || depth != 0 {
		t.Errorf("want one closed root element, got %d roots, depth %d", roots, depth)
	}
	if len(elements) < 2 || elements[0] != "title" || elements[1] != "desc" {
		t.Errorf("the svg should open with <title> and <desc>, got %v", elements)
	}
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func TestEscapesText(t *testing.T) {
	def := &engine.Definition{
		Name:    `<b>"flow"</b>`,
		Source:  engine.Source{System: "shop & co", Event: "order.created"},
		Targets: []engine.Target{{Name: "x<y", Kind: "capture"}},
		Routes:  []engine.Route{{Name: "<script>", When: `source.total < 10 && source.note != "</text>"`, Target: "x<y"}},
	}
	doc := SVG(def, Options{ID: `a"b`, Matched: map[string]bool{"<script>": true}, RouteLinks: map[string]string{"<script>": `#route-"><script>`}})
	checkDocument(t, doc)
	if strings.Contains(doc, "<script") || strings.Contains(doc, "<b>") || strings.Contains(doc, `"></text>`) {
		t.Fatalf("markup from the definition leaked into the SVG:\n%s", doc)
	}
	for _, want := range []string{"&lt;script&gt;", "shop &amp; co", "x&lt;y", "source.total &lt; 10 &amp;&amp;", `a&#34;b-title`} {
		if !strings.Contains(doc, want) {
			t.Errorf("missing %q in\n%s", want, doc)
		}
	}
}

func TestLongNamesAreCutWithTheirFullTextInATooltip(t *testing.T) {
	long := "a-route-name-far-too-long-to-fit-into-its-box-in-the-diagram"
	doc := SVG(&engine.Definition{Routes: []engine.Route{{Name: long, Target: "t"}}}, Options{})
	label := regexp.MustCompile(`<text class="label"[^>]*>([^<]*)</text>`)
	var cut string
	for _, m := range label.FindAllStringSubmatch(doc, -1) {
		if strings.HasPrefix(long, strings.TrimSuffix(m[1], "…")) && strings.HasSuffix(m[1], "…") {
			cut = m[1]
		}
	}
	if cut == "" {
		t.Fatalf("no truncated label for the long route name in\n%s", doc)
	}
	if !strings.Contains(doc, "<title>Route "+long+" ") {
		t.Errorf("the full name should be in the box's <title>:\n%s", doc)
	}
}

func TestSelfContained(t *testing.T) {
	def, opts := twelveRoutes()
	doc := SVG(def, opts)
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch el.Name.Local {
		case "script", "image", "foreignObject", "use", "iframe":
			t.Errorf("diagram contains <%s>", el.Name.Local)
		}
		for _, a := range el.Attr {
			if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") {
				t.Errorf("<%s> has an event handler %s", el.Name.Local, a.Name.Local)
			}
		}
	}
	for _, banned := range []string{"javascript:", "@import", "url(", "@font-face"} {
		if strings.Contains(doc, banned) {
			t.Errorf("diagram contains %q", banned)
		}
	}
	// The namespace is the only URL: no CDN, font or image is fetched.
	if n := strings.Count(doc, "://"); n != 1 {
		t.Errorf("want only the SVG namespace URL, found %d", n)
	}
}

func TestHeightGrowsWithRoutes(t *testing.T) {
	height := regexp.MustCompile(`height="(\d+)"`)
	prev := 0
	for n := 0; n <= 12; n += 3 {
		def := &engine.Definition{Targets: []engine.Target{{Name: "t", Kind: "capture"}}}
		for i := range n {
			def.Routes = append(def.Routes, engine.Route{Name: fmt.Sprint("r", i), Target: "t"})
		}
		h, err := strconv.Atoi(height.FindStringSubmatch(SVG(def, Options{}))[1])
		if err != nil {
			t.Fatal(err)
		}
		if n > 1 && h <= prev {
			t.Errorf("%d routes: height %d, not more than %d", n, h, prev)
		}
		prev = h
	}
}

func TestHighlightSaysItInWords(t *testing.T) {
	def := &engine.Definition{Routes: []engine.Route{{Name: "yes", Target: "t"}, {Name: "no", Target: "t"}, {Name: "unknown", Target: "t"}}}
	doc := SVG(def, Options{Matched: map[string]bool{"yes": true, "no": false}})
	for _, want := range []string{`class="route matched"`, `class="route unmatched"`, `class="route"`, "0 rows · matched", "0 rows · not matched", "yes (always, 0 rows) to target t, matched by the selected sample"} {
		if !strings.Contains(doc, want) {
			t.Errorf("missing %q", want)
		}
	}
	if !bytes.Contains([]byte(SVG(def, Options{})), []byte(`class="route"`)) {
		t.Error("without Options.Matched routes should be neutral")
	}
}

func readDefinition(t *testing.T, path string) *engine.Definition {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	def, err := engine.ParseDefinition(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return def
}

// A route's steps (then) show in its box, in words, and as edges from the
// route to the steps' targets.
func TestStepsAreDrawn(t *testing.T) {
	t.Parallel()
	def := &engine.Definition{
		Name:    "writeback",
		Source:  engine.Source{System: "storefront", Event: "order.created"},
		Targets: []engine.Target{{Name: "erp", Kind: "http"}, {Name: "shop", Kind: "http"}},
		Routes: []engine.Route{{Name: "erp", Target: "erp", Mapping: []engine.Row{{Target: "id", Expr: "source.id"}},
			Then: []engine.Step{{Name: "writeback", Target: "shop", When: "response.status == 201", Mapping: []engine.Row{{Target: "n", Expr: "response.body.n"}},
				Then: []engine.Step{{Name: "notify", Target: "mail", Mapping: []engine.Row{{Target: "n", Expr: "1"}}}}}}}},
	}
	svg := SVG(def, Options{})
	for _, want := range []string{
		"then writeback, notify",
		"then writeback → shop",
		`then step writeback (when response.status == 201) to target shop, then step notify (always) to target mail`,
		`class="edge step"`,
		"Target mail (not defined)",
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("the diagram lacks %q:\n%s", want, svg)
		}
	}
}
