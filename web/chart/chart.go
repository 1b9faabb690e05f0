// Package chart draws the operations dashboard's time series as
// server-rendered SVG: lines over a time axis, with a legend.
//
// Like web/diagram, a chart is self-contained (no script, font, stylesheet
// or image from elsewhere, so the content security policy holds),
// accessible (role="img" with a <title> and a <desc> that says the totals in
// words) and deterministic, so it can be tested by its text.
package chart

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Series is one line: a name for the legend, a colour and one value per
// point of the chart.
type Series struct {
	Name   string
	Colour string // a CSS colour such as #2563eb
	Values []int64
}

// Chart is a time-series chart.
type Chart struct {
	// ID prefixes the title and description ids (letters, digits, hyphens);
	// give each chart on a page its own.
	ID    string
	Title string
	// Times are the points' times, oldest first; each series has one value
	// per time.
	Times  []time.Time
	Series []Series
	// TimeFormat formats axis labels; default "15:04".
	TimeFormat string
}

// Geometry, in SVG user units.
const (
	width, height = 720, 220
	left, right   = 48, 12
	top, bottom   = 12, 44
	plotW, plotH  = width - left - right, height - top - bottom
)

// SVG draws the chart.
func (c Chart) SVG() string {
	if c.TimeFormat == "" {
		c.TimeFormat = "15:04"
	}
	var maxV int64
	for _, s := range c.Series {
		for _, v := range s.Values {
			maxV = max(maxV, v)
		}
	}
	ceil := niceCeiling(maxV)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc">`,
		width, height, c.ID, c.ID)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, c.ID, esc(c.Title), c.ID, esc(c.describe()))
	// Grid and y axis: 0, half, top.
	for _, f := range []int64{0, ceil / 2, ceil} {
		y := yOf(f, ceil)
		fmt.Fprintf(&b, `<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#e5e7eb"/>`, left, y, width-right, y)
		fmt.Fprintf(&b, `<text x="%d" y="%s" font-size="11" text-anchor="end" dominant-baseline="middle" fill="#6b7280">%d</text>`, left-6, y, f)
	}
	// Time labels: about six.
	n := len(c.Times)
	if n > 0 {
		every := max(1, (n+5)/6)
		for i := 0; i < n; i += every {
			fmt.Fprintf(&b, `<text x="%s" y="%d" font-size="11" text-anchor="middle" fill="#6b7280">%s</text>`,
				xOf(i, n), height-bottom+16, esc(c.Times[i].UTC().Format(c.TimeFormat)))
		}
	}
	for _, s := range c.Series {
		if len(s.Values) == 0 {
			continue
		}
		var pts []string
		for i, v := range s.Values {
			pts = append(pts, xOf(i, len(s.Values))+","+yOf(v, ceil))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, esc(s.Colour), strings.Join(pts, " "))
	}
	// Legend under the axis.
	x := left
	for _, s := range c.Series {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/>`, x, height-14, esc(s.Colour))
		label := fmt.Sprintf("%s (%d)", s.Name, sum(s.Values))
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#374151">%s</text>`, x+14, height-5, esc(label))
		x += 24 + 7*len(label)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// describe says in words what the chart shows.
func (c Chart) describe() string {
	parts := make([]string, 0, len(c.Series))
	for _, s := range c.Series {
		parts = append(parts, fmt.Sprintf("%s %d", s.Name, sum(s.Values)))
	}
	span := ""
	if len(c.Times) > 0 {
		span = fmt.Sprintf(" from %s to %s UTC", c.Times[0].UTC().Format("2006-01-02 15:04"), c.Times[len(c.Times)-1].UTC().Format("2006-01-02 15:04"))
	}
	return fmt.Sprintf("%d points%s; totals: %s.", len(c.Times), span, strings.Join(parts, ", "))
}

func sum(vs []int64) int64 {
	var t int64
	for _, v := range vs {
		t += v
	}
	return t
}

// niceCeiling rounds up to 1, 2 or 5 × a power of ten (at least 1), an
// even number so that half of it is whole.
func niceCeiling(v int64) int64 {
	if v <= 2 {
		return 2
	}
	p := int64(1)
	for {
		for _, m := range []int64{2, 4, 10} {
			if m*p >= v {
				return m * p
			}
		}
		p *= 10
	}
}

func xOf(i, n int) string {
	if n <= 1 {
		return strconv.Itoa(left + plotW/2)
	}
	return strconv.FormatFloat(float64(left)+float64(i)*float64(plotW)/float64(n-1), 'f', 1, 64)
}

func yOf(v, ceil int64) string {
	return strconv.FormatFloat(float64(top)+float64(plotH)-float64(v)*float64(plotH)/float64(max(ceil, 1)), 'f', 1, 64)
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
