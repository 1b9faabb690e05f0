package view

import "strconv"

func i64toa(n int64) string { return strconv.FormatInt(n, 10) }
