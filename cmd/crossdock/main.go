// Command crossdock is Crossdock's single binary: the server, its migrations,
// user administration and the mapping tools for pipelines. main only calls
// run, which tests call too.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
)

func main() {
	err := run(context.Background(), os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	var exit exitError
	if errors.As(err, &exit) {
		os.Exit(exit.code)
	}
	fmt.Fprintln(os.Stderr, "crossdock:", err)
	os.Exit(1)
}
