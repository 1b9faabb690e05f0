// Package humane writes durations and times the way people read them on a
// page ("1 minute 30 seconds", "0.9 s", "3 minutes ago") rather than as Go
// formats them ("1m30s", "903.763842ms").
package humane

import (
	"strconv"
	"strings"
	"time"
)

// Duration writes d in words, to the precision a reader needs: under a
// tenth of a second in milliseconds ("350 ms" is 0.35 s, shown "0.4 s"),
// under a minute in seconds with one decimal when it has one ("0.9 s",
// "12 seconds", "1.5 seconds"), then the two largest whole units
// ("1 minute", "1 minute 30 seconds", "2 hours 5 minutes", "3 days").
// Negative durations are written as their magnitude.
func Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d == 0:
		return "0 seconds"
	case d < 100*time.Millisecond:
		return strconv.FormatInt(max(d.Milliseconds(), 1), 10) + " ms"
	case d < time.Second:
		return strconv.FormatFloat(float64(d.Round(100*time.Millisecond))/float64(time.Second), 'f', 1, 64) + " s"
	case d < time.Minute:
		s := float64(d.Round(100*time.Millisecond)) / float64(time.Second)
		if s == float64(int64(s)) {
			return unit(int64(s), "second")
		}
		return strconv.FormatFloat(s, 'f', 1, 64) + " seconds"
	}
	d = d.Round(time.Second)
	units := []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}}
	var parts []string
	for _, u := range units {
		if n := int64(d / u.size); n > 0 {
			parts = append(parts, unit(n, u.name))
			d -= time.Duration(n) * u.size
		} else if len(parts) > 0 {
			break // "1 hour 5 seconds" is noise: stop at the first gap
		}
		if len(parts) == 2 {
			break
		}
	}
	return strings.Join(parts, " ")
}

func unit(n int64, name string) string {
	if n == 1 {
		return "1 " + name
	}
	return strconv.FormatInt(n, 10) + " " + name + "s"
}

// Ago writes when t was, seen from now, the way a list shows it: "just
// now", "45 seconds ago", "3 minutes ago", "2 hours ago", "yesterday",
// "4 days ago", and from a week on the date ("2 Dec 2026"; with the year
// only when it is not now's). A t after now (a clock a little ahead, a
// scheduled time) reads "in 3 minutes". Pages put the exact time beside it
// on hover (view.When), because "2 hours ago" is for scanning a list and
// the timestamp for a ticket.
func Ago(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 10*time.Second:
		return "just now"
	case d < time.Minute:
		s = unit(int64(d/time.Second), "second")
	case d < time.Hour:
		s = unit(int64(d/time.Minute), "minute")
	case d < 24*time.Hour:
		s = unit(int64(d/time.Hour), "hour")
	case d < 48*time.Hour && !future:
		return "yesterday"
	case d < 7*24*time.Hour:
		s = unit(int64(d/(24*time.Hour)), "day")
	default:
		t, now = t.UTC(), now.UTC()
		if t.Year() == now.Year() {
			return t.Format("2 Jan")
		}
		return t.Format("2 Jan 2006")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}
