package program

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/mappings"
)

// Compiled is a flow version ready to run: the program, a second program
// that only derives the keys (so intake does not validate and map every
// message twice), and the kind of each target.
type Compiled struct {
	Program *engine.Program
	Keys    *engine.Program
	Kinds   map[string]transport.Kind // by target name
	Def     *engine.Definition
}

// programCacheSize bounds the cache. Versions are immutable and addressed by
// checksum, so an entry never goes stale; the bound only stops a process
// that has seen thousands of versions from keeping them all.
const programCacheSize = 512

// Cache caches compiled versions by checksum for every intake and
// worker in the process. It is package state on purpose: it memoises a
// pure function of immutable, content-addressed input, so sharing it is
// always correct and spares a compile per message.
var Cache = &programCache{entries: map[string]*Compiled{}}

type programCache struct {
	mu      sync.Mutex
	entries map[string]*Compiled
}

// Get returns the compiled version with the given checksum, loading and
// compiling it from flow_versions on a miss.
func (c *programCache) Get(ctx context.Context, db txn.DBTX, flowID int64, version int, checksum string) (*Compiled, error) {
	c.mu.Lock()
	p := c.entries[checksum]
	c.mu.Unlock()
	if p != nil {
		return p, nil
	}
	v, err := mappings.VersionGet(ctx, db, flowID, version)
	if err != nil {
		return nil, err
	}
	p, err = Compile(v.Definition)
	if err != nil {
		// A stored version over the limits checked before parsing: the
		// deployment is at fault, not the request.
		return nil, fault.Wrap(fmt.Errorf("compile version %d of flow %d: %w", version, flowID, err), fault.Conflict,
			fmt.Sprintf("version %d of this flow, the one deployed here, does not compile (%s); deploy another version", version, firstProblem(err)))
	}
	c.mu.Lock()
	if len(c.entries) >= programCacheSize {
		// Versions are cheap to recompile; dropping everything keeps the
		// code simple and the bound hard.
		c.entries = map[string]*Compiled{}
	}
	c.entries[checksum] = p
	c.mu.Unlock()
	return p, nil
}

// Compile compiles a definition the way the cache does, for a version that
// is not deployed (a draft being replayed).
func Compile(def *engine.Definition) (*Compiled, error) {
	prog, err := engine.Compile(def, engine.Options{})
	if err != nil {
		return nil, err
	}
	keysOnly := *def
	keysOnly.Validation, keysOnly.Routes, keysOnly.Tests = nil, nil, nil
	keys, err := engine.Compile(&keysOnly, engine.Options{})
	if err != nil {
		return nil, err
	}
	kinds := make(map[string]transport.Kind, len(def.Targets))
	for _, t := range def.Targets {
		kinds[t.Name] = transport.Kind(t.Kind)
	}
	return &Compiled{Program: prog, Keys: keys, Kinds: kinds, Def: def}, nil
}

// Run maps one message of a deployed flow under the flow's time
// budget (engine.Program.TimeBudget): a breach comes back as a row error
// naming the expression that was running, so the message becomes a
// mapping exception; the caller's own cancellation still comes back as
// the context's error.
func Run(ctx context.Context, p *engine.Program, in engine.Input) (*engine.Result, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, p.TimeBudget(), engine.ErrTimeBudget)
	defer cancel()
	return p.Run(ctx, in)
}

// firstProblem is the first diagnostic of a compile error, on one line.
func firstProblem(err error) string {
	var de *engine.DefinitionError
	if errors.As(err, &de) && len(de.Diagnostics) > 0 {
		d := de.Diagnostics[0]
		return d.Pointer + ": " + d.Message
	}
	return err.Error()
}
