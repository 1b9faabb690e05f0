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

// cacheSize bounds the cache. Versions are immutable and addressed by
// checksum, so an entry never goes stale; the bound only stops a process
// that has seen thousands of versions from keeping them all.
const cacheSize = 512

// cache holds compiled versions by checksum for every intake and worker in
// the process. It is package state on purpose: it memoises a pure function
// of immutable, content-addressed input, so sharing it is always correct
// and spares a compile per message.
var cache = struct {
	mu      sync.Mutex
	entries map[string]*Compiled
}{entries: map[string]*Compiled{}}

// Load returns the compiled version of the flow with the given checksum,
// from the cache every intake and worker in the process shares; on a miss
// it loads the version from flow_versions and compiles it. A stored
// version that does not compile is a Conflict naming the version.
func Load(ctx context.Context, db txn.DBTX, flowID int64, version int, checksum string) (*Compiled, error) {
	cache.mu.Lock()
	p := cache.entries[checksum]
	cache.mu.Unlock()
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
	cache.mu.Lock()
	if len(cache.entries) >= cacheSize {
		// Versions are cheap to recompile; dropping everything keeps the
		// code simple and the bound hard.
		cache.entries = map[string]*Compiled{}
	}
	cache.entries[checksum] = p
	cache.mu.Unlock()
	return p, nil
}

// Compile compiles a definition the way Load does, for a version that is
// not deployed (a draft being replayed).
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
