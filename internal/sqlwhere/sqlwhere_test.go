package sqlwhere_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/sqlwhere"
)

func TestEmptyClauseIsNoWhere(t *testing.T) {
	t.Parallel()
	var w sqlwhere.Clause
	require.Equal(t, "", w.SQL())
	require.Empty(t, w.Args())
	require.Equal(t, "$1", w.Arg(10), "a limit alone is the first parameter")
	require.Equal(t, []any{10}, w.Args())
}

func TestPlaceholdersAreNumberedInTheOrderArgumentsAreAdded(t *testing.T) {
	t.Parallel()
	var w sqlwhere.Clause
	w.Add("status in ('open', 'assigned')")
	w.Add("environment_id = $?", int64(3))
	w.Add("(last_seen, id) < ($?, $?)", "2026-01-02", int64(7))
	text := w.Arg("%late%")
	w.Add("(message ilike " + text + " or note ilike " + text + ")")
	w.Add("actor_email ilike '%' || $? || '%'", "ana")
	limit := w.Arg(51)
	require.Equal(t, " where status in ('open', 'assigned') and environment_id = $1 and (last_seen, id) < ($2, $3)"+
		" and (message ilike $4 or note ilike $4) and actor_email ilike '%' || $5 || '%'", w.SQL())
	require.Equal(t, "$6", limit)
	require.Equal(t, []any{int64(3), "2026-01-02", int64(7), "%late%", "ana", 51}, w.Args())
}

func TestTenOrMorePlaceholders(t *testing.T) {
	t.Parallel()
	var w sqlwhere.Clause
	for i := range 11 {
		w.Add("c = $?", i)
	}
	require.Contains(t, w.SQL(), "c = $10 and c = $11")
	require.Len(t, w.Args(), 11)
}

func TestMismatchedPlaceholdersPanic(t *testing.T) {
	t.Parallel()
	var w sqlwhere.Clause
	require.Panics(t, func() { w.Add("a = $? and b = $?", 1) })
	require.Panics(t, func() { w.Add("a = 1", 1) })
	require.Equal(t, "", w.SQL(), "a refused condition is not added")
}
