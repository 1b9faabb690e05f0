package humane_test

import (
	"testing"
	"time"

	"github.com/crossdock/crossdock/internal/humane"
)

func TestDuration(t *testing.T) {
	for _, c := range []struct {
		in   time.Duration
		want string
	}{
		{0, "0 seconds"},
		{300 * time.Microsecond, "1 ms"},
		{42 * time.Millisecond, "42 ms"},
		{903763842 * time.Nanosecond, "0.9 s"},
		{time.Second, "1 second"},
		{1500 * time.Millisecond, "1.5 seconds"},
		{12 * time.Second, "12 seconds"},
		{time.Minute, "1 minute"},
		{90 * time.Second, "1 minute 30 seconds"},
		{5 * time.Minute, "5 minutes"},
		{2*time.Hour + 5*time.Minute + 9*time.Second, "2 hours 5 minutes"},
		{time.Hour + 5*time.Second, "1 hour"},
		{72 * time.Hour, "3 days"},
		{-90 * time.Second, "1 minute 30 seconds"},
	} {
		if got := humane.Duration(c.in); got != c.want {
			t.Errorf("Duration(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{now, "just now"},
		{now.Add(-9 * time.Second), "just now"},
		{now.Add(-45 * time.Second), "45 seconds ago"},
		{now.Add(-time.Minute), "1 minute ago"},
		{now.Add(-3*time.Minute - 50*time.Second), "3 minutes ago"},
		{now.Add(-2 * time.Hour), "2 hours ago"},
		{now.Add(-30 * time.Hour), "yesterday"},
		{now.Add(-4 * 24 * time.Hour), "4 days ago"},
		{now.Add(-10 * 24 * time.Hour), "27 Nov"},
		{time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), "1 Mar 2025"},
		{now.Add(3 * time.Minute), "in 3 minutes"},
		{now.Add(30 * time.Hour), "in 1 day"},
	} {
		if got := humane.Ago(c.at, now); got != c.want {
			t.Errorf("Ago(%v) = %q, want %q", now.Sub(c.at), got, c.want)
		}
	}
}
