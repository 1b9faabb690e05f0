// Package sqlwhere builds the WHERE clause of a query whose conditions
// depend on a filter (the inbox, the exception groups, the message
// explorer, the audit log). It numbers the $n placeholders as arguments are
// added, so no caller counts them, and every value stays a parameter.
package sqlwhere

import (
	"fmt"
	"strconv"
	"strings"
)

// Clause collects conditions, joined by "and", and their arguments in
// placeholder order. The zero Clause has no condition and is ready to use.
type Clause struct {
	conds []string
	args  []any
}

// Arg adds v to the arguments and returns its placeholder ("$3"), for a
// condition that uses one value twice or is put together in pieces. A
// LIMIT or other parameter after the clause takes its placeholder from Arg
// too, so that Args lists it.
func (c *Clause) Arg(v any) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(len(c.args))
}

// Add appends cond, each "$?" in it replaced in turn by the placeholder of
// the next of args. A condition with "or" at its top level needs its own
// parentheses. Add panics when cond has not one "$?" for each of args: the
// two are written side by side in code, so that is a programming error.
func (c *Clause) Add(cond string, args ...any) {
	if n := strings.Count(cond, "$?"); n != len(args) {
		panic(fmt.Sprintf("sqlwhere: %q has %d placeholders for %d arguments", cond, n, len(args)))
	}
	for _, v := range args {
		cond = strings.Replace(cond, "$?", c.Arg(v), 1)
	}
	c.conds = append(c.conds, cond)
}

// SQL is " where " and the conditions joined by " and ", or "" when there
// is none, to append to a select.
func (c *Clause) SQL() string {
	if len(c.conds) == 0 {
		return ""
	}
	return " where " + strings.Join(c.conds, " and ")
}

// Args returns the arguments, the first for $1.
func (c *Clause) Args() []any { return c.args }
