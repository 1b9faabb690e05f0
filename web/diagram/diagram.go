// Package diagram draws a flow definition as a server-rendered SVG: source →
// validation → routes → targets, for the flow designer.
//
// The drawing is self-contained (no script, no external font, stylesheet or
// image), accessible (role="img" with a <title> and a <desc> that says in
// words what the picture shows) and deterministic: the same definition and
// options always give the same bytes, so it can be golden-tested and cached.
package diagram

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/crossdock/crossdock/engine"
)

// Options changes how a diagram is drawn. The zero value draws the plain
// flow.
type Options struct {
	// ID prefixes the ids of the title and description that the <svg>
	// points at with aria-labelledby. Ids are global in an HTML page, so
	// give each diagram on the same page its own (letters, digits and
	// hyphens: it becomes part of an id); default "flow-diagram".
	ID string
	// Matched marks, per route name, whether the route's condition held
	// for the selected sample: matched routes and their edges are drawn in
	// the brand colour, unmatched ones dimmed, and the box says which in
	// words too. Routes not in the map (or a nil map) are drawn neutral.
	Matched map[string]bool
	// RouteLinks makes a route box a link to the given href, typically the
	// route's mapping grid on the same page ("#route-erp-sales-order").
	// Routes not in the map are not links.
	RouteLinks map[string]string
}

// Geometry, in SVG user units (pixels at 100 %). Columns run left to right;
// routes and targets stack top to bottom, so only the height depends on the
// definition.
const (
	margin     = 16
	boxHeight  = 66 // source, validation and route boxes: three lines
	rowGap     = 14 // between stacked boxes
	targetH    = 50 // target boxes: two lines
	sourceX    = margin
	sourceW    = 170
	validX     = sourceX + sourceW + 40
	validW     = 150
	routeX     = validX + validW + 40
	routeW     = 232
	targetX    = routeX + routeW + 56
	targetW    = 190
	totalWidth = targetX + targetW + margin
	arrow      = 7 // arrowhead length
)

// Characters that fit on one line of a box, estimated for the system sans
// serif at the sizes in style (≈7.4 px per bold character at 13 px, ≈6.6 px
// at 12 px, ≈7 px for the monospace condition at 11.5 px) minus padding.
// Estimates err on the short side: a name cut early still has its tooltip,
// one that overflows its box does not look like a diagram.
const (
	sourceChars    = (sourceW - 24) * 10 / 74
	validChars     = (validW - 24) * 10 / 74
	routeChars     = (routeW - 24) * 10 / 74
	conditionChars = (routeW - 24) / 7
	detailChars    = (routeW - 24) * 10 / 66
	targetChars    = (targetW - 24) * 10 / 74
)

// style is scoped under .flow-diagram because an SVG inlined in HTML shares
// the page's stylesheet: unscoped rules would restyle the page.
const style = `.flow-diagram{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b2430}` +
	`.flow-diagram .box{fill:#fff;stroke:#c5ccd5;stroke-width:1.5}` +
	`.flow-diagram .source .box{fill:#f3f6fa}` +
	`.flow-diagram .label{font-size:13px;font-weight:600;fill:#0f4c81}` +
	`.flow-diagram .detail{font-size:12px;fill:#1b2430}` +
	`.flow-diagram .code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:11.5px;fill:#1b2430}` +
	`.flow-diagram .edge{fill:none;stroke:#c5ccd5;stroke-width:1.5}` +
	`.flow-diagram .head{fill:#c5ccd5}` +
	`.flow-diagram .matched .box{stroke:#0f4c81;stroke-width:2;fill:#eef4fa}` +
	`.flow-diagram .edge.matched{stroke:#0f4c81;stroke-width:2}` +
	`.flow-diagram .head.matched{fill:#0f4c81}` +
	`.flow-diagram .unmatched{opacity:.55}` +
	`.flow-diagram .missing .box,.flow-diagram .empty .box{stroke-dasharray:5 4}` +
	`.flow-diagram a:focus .box{stroke:#0f4c81;stroke-width:3}`

// SVG returns the diagram of def as a standalone SVG document (no XML
// declaration, so it can be inlined in HTML as it is or served as
// image/svg+xml). Each box and edge is on a line of its own, so a change to
// a golden file reads as a change to one box. Targets are drawn in the definition's order; a target a
// route names but the definition does not declare is drawn dashed as "not
// defined", after the declared ones, so a broken reference shows.
func SVG(def *engine.Definition, opts Options) string {
	if def == nil {
		def = &engine.Definition{}
	}
	id := opts.ID
	if id == "" {
		id = "flow-diagram"
	}

	targets, declared := targetOrder(def)
	routeCol := len(def.Routes)*boxHeight + max(len(def.Routes)-1, 0)*rowGap
	if len(def.Routes) == 0 {
		routeCol = boxHeight // the "no routes yet" placeholder
	}
	targetCol := len(targets)*targetH + max(len(targets)-1, 0)*rowGap
	content := max(routeCol, targetCol, boxHeight)
	height := content + 2*margin

	// Each column is centred on the content height, so the picture reads
	// as one stream whichever column is tallest.
	centre := margin + content/2
	routeTop := margin + (content-routeCol)/2
	targetTop := margin + (content-targetCol)/2
	targetMid := make(map[string]int, len(targets))
	for i, t := range targets {
		targetMid[t] = targetTop + i*(targetH+rowGap) + targetH/2
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="flow-diagram" role="img" width="%d" height="%d" viewBox="0 0 %d %d" aria-labelledby="%s-title %s-desc">`+"\n",
		totalWidth, height, totalWidth, height, esc(id), esc(id))
	fmt.Fprintf(&b, `<title id="%s-title">%s</title>`+"\n", esc(id), esc("Flow diagram of "+orUnnamed(def.Name)))
	fmt.Fprintf(&b, `<desc id="%s-desc">%s</desc>`+"\n", esc(id), esc(describe(def, opts)))
	b.WriteString(`<style>` + style + "</style>\n")

	// Edges first, so boxes are painted over their ends; matched routes'
	// edges last among them, so a dimmed edge never crosses over the path
	// the selected sample took.
	edge(&b, sourceX+sourceW, centre, validX, centre, "")
	for _, matchedPass := range []bool{false, true} {
		for i, r := range def.Routes {
			class := matchClass(opts.Matched, r.Name)
			if (class == "matched") != matchedPass {
				continue
			}
			mid := routeTop + i*(boxHeight+rowGap) + boxHeight/2
			edge(&b, validX+validW, centre, routeX, mid, class)
			edge(&b, routeX+routeW, mid, targetX, targetMid[r.Target], class)
			// A step's delivery leaves from its route, after it.
			for _, st := range flatSteps(r.Then) {
				if st.Target != r.Target {
					edge(&b, routeX+routeW, mid, targetX, targetMid[st.Target], strings.TrimSpace("step "+class))
				}
			}
		}
	}
	if len(def.Routes) == 0 {
		edge(&b, validX+validW, centre, routeX, centre, "")
	}

	// Source and validation.
	y := centre - boxHeight/2
	box(&b, "source", sourceX, y, sourceW, boxHeight,
		"Source: "+orUnnamed(def.Source.System)+" "+def.Source.Event, "",
		line{"label", orUnnamed(def.Source.System), sourceChars},
		line{"detail", orDash(def.Source.Event), sourceChars * 74 / 66})
	rules := count(len(def.Validation), "rule", "rules")
	if len(def.Validation) == 0 {
		rules = "no rules"
	}
	box(&b, "validation", validX, y, validW, boxHeight, "Validation: "+ruleNames(def.Validation), "",
		line{"label", "Validation", validChars},
		line{"detail", rules, validChars * 74 / 66},
		line{"detail", "", 0})

	// Routes.
	if len(def.Routes) == 0 {
		box(&b, "route empty", routeX, routeTop, routeW, boxHeight, "This flow has no routes yet; add one to send messages anywhere.", "",
			line{"label", "No routes yet", routeChars},
			line{"detail", "add a route to send messages", detailChars},
			line{"detail", "", 0})
	}
	for i, r := range def.Routes {
		rows := count(countRows(r.Mapping), "row", "rows")
		status := ""
		if m, ok := opts.Matched[r.Name]; ok {
			status = " · not matched"
			if m {
				status = " · matched"
			}
		}
		then, thenTitle := "", ""
		if steps := flatSteps(r.Then); len(steps) > 0 {
			names := make([]string, len(steps))
			for j, st := range steps {
				names[j] = st.Name
				thenTitle += " — then " + orUnnamed(st.Name) + " → " + orUnnamed(st.Target)
			}
			then = " · then " + strings.Join(names, ", ")
		}
		box(&b, "route "+matchClass(opts.Matched, r.Name), routeX, routeTop+i*(boxHeight+rowGap), routeW, boxHeight,
			"Route "+r.Name+" — "+condition(r.When)+" — "+rows+" → "+orUnnamed(r.Target)+thenTitle+status,
			opts.RouteLinks[r.Name],
			line{"label", orUnnamed(r.Name), routeChars},
			line{"code", condition(r.When), conditionChars},
			line{"detail", rows + status + then, detailChars})
	}

	// Targets.
	for i, t := range targets {
		kind := "not defined"
		class := "target missing"
		if tg, ok := declared[t]; ok {
			kind, class = strings.TrimSpace(tg.Kind+" "+tg.Method), "target"
		}
		box(&b, class, targetX, targetTop+i*(targetH+rowGap), targetW, targetH, "Target "+t+" ("+kind+")", "",
			line{"label", orUnnamed(t), targetChars},
			line{"detail", kind, targetChars * 74 / 66})
	}

	b.WriteString(`</svg>`)
	return b.String()
}

// line is one line of text in a box; chars is how many characters fit
// before it is cut with an ellipsis (0: as it is).
type line struct {
	class, text string
	chars       int
}

// box draws a rounded rectangle with up to three lines of text. Its
// <title> child holds the full text, shown as a tooltip where a line had to
// be cut; href, when set, makes the whole box a link.
func box(b *strings.Builder, class string, x, y, w, h int, title, href string, lines ...line) {
	if href != "" {
		fmt.Fprintf(b, `<a href="%s">`, esc(href))
	}
	fmt.Fprintf(b, `<g class="%s"><title>%s</title>`, esc(strings.TrimSpace(class)), esc(title))
	fmt.Fprintf(b, `<rect class="box" x="%d" y="%d" width="%d" height="%d" rx="8"/>`, x, y, w, h)
	for i, l := range lines {
		if l.text == "" {
			continue
		}
		text := l.text
		if l.chars > 0 {
			text = truncate(text, l.chars)
		}
		fmt.Fprintf(b, `<text class="%s" x="%d" y="%d">%s</text>`, l.class, x+12, y+22+i*17, esc(text))
	}
	b.WriteString(`</g>`)
	if href != "" {
		b.WriteString(`</a>`)
	}
	b.WriteString("\n")
}

// edge draws a curve from the right edge of one box to the left edge of the
// next, with an arrowhead drawn as a polygon rather than a <marker>, because
// a marker needs an id and ids collide when a page holds two diagrams.
func edge(b *strings.Builder, x1, y1, x2, y2 int, class string) {
	end := x2 - arrow
	mid := (x1 + end) / 2
	cls := strings.TrimSpace("edge " + class)
	if y1 == y2 {
		fmt.Fprintf(b, `<path class="%s" d="M%d %dH%d"/>`, cls, x1, y1, end)
	} else {
		fmt.Fprintf(b, `<path class="%s" d="M%d %dC%d %d %d %d %d %d"/>`, cls, x1, y1, mid, y1, mid, y2, end, y2)
	}
	fmt.Fprintf(b, `<polygon class="%s" points="%d,%d %d,%d %d,%d"/>`+"\n",
		strings.TrimSpace("head "+class), x2, y2, end, y2-4, end, y2+4)
}

// targetOrder lists the targets to draw: the declared ones in definition
// order, then names routes use without declaring them.
func targetOrder(def *engine.Definition) ([]string, map[string]engine.Target) {
	declared := make(map[string]engine.Target, len(def.Targets))
	var names []string
	for _, t := range def.Targets {
		if _, dup := declared[t.Name]; dup {
			continue
		}
		declared[t.Name] = t
		names = append(names, t.Name)
	}
	seen := make(map[string]bool)
	for _, r := range def.Routes {
		used := []string{r.Target}
		for _, st := range flatSteps(r.Then) {
			used = append(used, st.Target)
		}
		for _, t := range used {
			if _, ok := declared[t]; ok || seen[t] {
				continue
			}
			seen[t] = true
			names = append(names, t)
		}
	}
	return names, declared
}

// flatSteps lists a route's steps (then) and the steps after them, in
// definition order, depth first.
func flatSteps(steps []engine.Step) []engine.Step {
	var out []engine.Step
	for _, st := range steps {
		out = append(out, st)
		out = append(out, flatSteps(st.Then)...)
	}
	return out
}

// describe says in words what the diagram shows, for screen readers: the
// <desc> is never truncated.
func describe(def *engine.Definition, opts Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Messages from %s", orUnnamed(def.Source.System))
	if def.Source.Event != "" {
		fmt.Fprintf(&b, " (%s)", def.Source.Event)
	}
	if len(def.Validation) == 0 {
		b.WriteString(" pass no validation rules")
	} else {
		fmt.Fprintf(&b, " are checked by %s", count(len(def.Validation), "validation rule", "validation rules"))
	}
	if len(def.Routes) == 0 {
		b.WriteString(" and go nowhere: the flow has no routes yet.")
		return b.String()
	}
	fmt.Fprintf(&b, ", then take %s:", count(len(def.Routes), "route", "routes"))
	for i, r := range def.Routes {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s (%s, %s) to target %s", orUnnamed(r.Name), condition(r.When), count(countRows(r.Mapping), "row", "rows"), orUnnamed(r.Target))
		for _, st := range flatSteps(r.Then) {
			fmt.Fprintf(&b, ", then step %s (%s) to target %s", orUnnamed(st.Name), condition(st.When), orUnnamed(st.Target))
		}
		if m, ok := opts.Matched[r.Name]; ok {
			if m {
				b.WriteString(", matched by the selected sample")
			} else {
				b.WriteString(", not matched by the selected sample")
			}
		}
	}
	b.WriteString(".")
	return b.String()
}

// condition is a route's condition on one line: "always" when empty.
func condition(when string) string {
	when = strings.Join(strings.Fields(when), " ")
	if when == "" {
		return "always"
	}
	return "when " + when
}

// countRows counts every row of a mapping, nested and for-each rows
// included, as the designer's grid shows them.
func countRows(rows []engine.Row) int {
	n := len(rows)
	for _, r := range rows {
		n += countRows(r.Rows)
	}
	return n
}

func ruleNames(rules []engine.Rule) string {
	if len(rules) == 0 {
		return "no rules"
	}
	names := make([]string, len(rules))
	for i, r := range rules {
		names[i] = r.Name
	}
	return strings.Join(names, ", ")
}

func matchClass(matched map[string]bool, route string) string {
	m, ok := matched[route]
	switch {
	case !ok:
		return ""
	case m:
		return "matched"
	default:
		return "unmatched"
	}
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func orUnnamed(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(unnamed)"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// truncate cuts s to at most n characters, the last one an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}

// esc escapes text for XML character data and attribute values alike.
func esc(s string) string {
	var b strings.Builder
	// EscapeText only fails when the writer does; a Builder never does.
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
