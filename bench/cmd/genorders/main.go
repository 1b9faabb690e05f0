// Command genorders writes storefront orders as NDJSON for the benchmarks:
//
//	go run ./cmd/genorders -n 100000 > orders.ndjson
package main

import (
	"bufio"
	"flag"
	"os"

	"github.com/crossdock/crossdock/bench/orders"
)

func main() {
	n := flag.Int("n", 100000, "number of orders")
	seed := flag.Uint64("seed", 1, "random seed; the same seed gives the same file")
	flag.Parse()
	w := bufio.NewWriter(os.Stdout)
	for _, o := range orders.Generate(*n, *seed) {
		w.Write(o)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		os.Exit(1)
	}
}
