package engine

import (
	"fmt"
	"testing"
)

// TestCachesAreBounded: patterns and zone names can come from payloads,
// so the process-wide caches must stop growing.
func TestCachesAreBounded(t *testing.T) {
	for i := 0; i < maxCached+50; i++ {
		if _, err := compileRegex("t", fmt.Sprintf("^x%d$", i)); err != nil {
			t.Fatal(err)
		}
		loadZone("t", fmt.Sprintf("Nowhere/%d", i))
	}
	if n := regexCached.Load(); n > maxCached {
		t.Errorf("%d patterns cached", n)
	}
	if n := zoneCached.Load(); n > maxCached {
		t.Errorf("%d zones cached", n)
	}
	// Past the bound everything still works, uncached.
	if re, err := compileRegex("t", "^late$"); err != nil || !re.MatchString("late") {
		t.Error(err)
	}
	if _, err := loadZone("t", "Europe/Berlin"); err != nil {
		t.Error(err)
	}
	if _, err := loadZone("t", "Nowhere/1"); err == nil {
		t.Error("a failed zone became valid")
	}
}
