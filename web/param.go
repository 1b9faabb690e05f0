package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/crossdock/crossdock/internal/fault"
)

// Numbers from requests are checked here, at the edge, against what the
// database holds: version numbers and draft revisions are PostgreSQL
// integers (1 to 2147483647), ids are bigints. A number out of range is
// Invalid (422) naming the field, never a database error (500).

// maxInt4 is the largest PostgreSQL integer.
const maxInt4 = math.MaxInt32

// parseVersionNumber reads the version number field was given as ("3" or
// "v3").
func parseVersionNumber(field, raw string) (int, error) {
	s := strings.TrimPrefix(strings.TrimSpace(raw), "v")
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 1 {
		return 0, &fault.Error{Code: fault.Invalid,
			Message: fmt.Sprintf("%s “%s” is not a version number; use a whole number from 1 to %d", field, raw, maxInt4),
			Fields:  map[string]string{field: fmt.Sprintf("a version number from 1 to %d", maxInt4)}}
	}
	return int(n), nil
}

// checkRevision checks a draft revision (the concurrency token a draft
// was read at).
func checkRevision(field string, n int) error {
	if n < 1 || n > maxInt4 {
		return &fault.Error{Code: fault.Invalid,
			Message: fmt.Sprintf("%s %d is not a draft revision; send the revision the draft was read at (1 to %d)", field, n, maxInt4),
			Fields:  map[string]string{field: fmt.Sprintf("a draft revision from 1 to %d", maxInt4)}}
	}
	return nil
}

// parseCursorID reads an id-based page cursor (before=): empty is 0 (the
// first page), anything else a positive id.
func parseCursorID(field, raw string) (int64, error) {
	if raw = strings.TrimSpace(raw); raw == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 1 {
		return 0, &fault.Error{Code: fault.Invalid,
			Message: fmt.Sprintf("%s “%s” is not a page cursor; follow the page's “next” link", field, raw),
			Fields:  map[string]string{field: "the id the previous page ended at"}}
	}
	return n, nil
}
