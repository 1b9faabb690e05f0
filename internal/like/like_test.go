package like_test

import (
	"testing"

	"github.com/crossdock/crossdock/internal/like"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain":      "plain",
		"50%_off":    `50\%\_off`,
		`back\slash`: `back\\slash`,
	} {
		if got := like.Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}
