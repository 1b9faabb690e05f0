// Package like builds PostgreSQL LIKE patterns from what people type.
package like

import "strings"

var escaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Escape makes s match itself literally inside a LIKE or ILIKE pattern
// (backslash is PostgreSQL's default escape character), so a search for
// "50%_off" finds that text rather than treating % and _ as wildcards.
func Escape(s string) string { return escaper.Replace(s) }
