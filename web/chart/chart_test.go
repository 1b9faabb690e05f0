package chart

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestChartIsWellFormedAccessibleAndSaysItsTotals(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	c := Chart{ID: "msgs", Title: "Messages <per minute>", Times: []time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute)},
		Series: []Series{{Name: "received", Colour: "#2563eb", Values: []int64{3, 0, 97}}, {Name: "failed", Colour: "#dc2626", Values: []int64{1, 0, 9}}}}
	svg := c.SVG()
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, svg)
	}
	for _, want := range []string{`role="img"`, `aria-labelledby="msgs-title msgs-desc"`, "Messages &lt;per minute&gt;",
		"3 points from 2026-11-28 10:00 to 2026-11-28 10:02 UTC; totals: received 100, failed 10.", "received (100)", ">50<", ">100<", "<polyline"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "<script") || strings.Contains(svg, "href") {
		t.Error("a chart must not load or run anything")
	}
	if c.SVG() != svg {
		t.Error("the same chart must give the same bytes")
	}
}

func TestEmptyChartStillDraws(t *testing.T) {
	svg := Chart{ID: "e", Title: "Nothing"}.SVG()
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not well-formed XML: %v", err)
	}
	if !strings.Contains(svg, "0 points; totals: .") {
		t.Errorf("unexpected description:\n%s", svg)
	}
}

func TestNiceCeiling(t *testing.T) {
	for v, want := range map[int64]int64{0: 2, 2: 2, 3: 4, 5: 10, 11: 20, 97: 100, 100: 100, 101: 200, 401: 1000} {
		if got := niceCeiling(v); got != want {
			t.Errorf("niceCeiling(%d) = %d, want %d", v, got, want)
		}
	}
}
