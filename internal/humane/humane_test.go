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
