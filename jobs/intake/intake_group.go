package intake

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/store"
)

// Config tunes an Intake. Zero values take the defaults.
type Config struct {
	// Writers is how many group commits may run at once (each holds one
	// database connection). Default 1: the events that arrive while a
	// commit is written wait for the next one, so groups grow with load.
	// More writers split the same events into smaller commits, and the
	// groups of work after them (a process job per commit) shrink with
	// them, and nearly every cost of the pipeline is paid per group. On two
	// cores at 64 clients one writer made groups of 32 messages where two
	// made 17, with less CPU per message end to end and a lower p99 for
	// accepts alone at 3,000/s (26–30 against 38 ms); three writers make
	// groups of 3 at the median (docs/benchmarks.md).
	Writers int
	// MaxBatch is the most single events one group commit carries.
	// Default 128. A batch request is one commit of its own, of up to
	// MaxBatchLines events.
	MaxBatch int
	// ResolveTTL is how long what a trigger URL resolves to (environment,
	// flow, live deployment, compiled version) is reused. Every insert
	// still checks that the deployment it was resolved against is the live
	// one, so a deploy is never missed; the TTL only bounds how stale the
	// environment variables used by key expressions may be. Default 2 s.
	ResolveTTL time.Duration
	// CommitTimeout bounds one group commit. Default 10 s.
	CommitTimeout time.Duration
}

// Intake is the one way events are accepted: single events (Accept), the
// synchronous answer (MapInline) and NDJSON batches (AcceptBatch) all
// write through the same statement, which inserts a message only while the
// deployment it was resolved against is still live.
//
// Single events are written with group commit: the events of requests
// that arrive together are written in one transaction — messages, their
// received lineage and their process jobs — and each request is answered
// once that transaction has committed. Every guarantee holds per event:
// durable before the answer, a message exists if and only if its job does,
// one message per idempotency key (the same key with the same payload
// answers the original message, Replayed; with another payload,
// ErrKeyReused). What concurrent requests share is the statements and one
// commit instead of five round trips and a WAL flush each.
//
// There is no background goroutine and no timer: a request that finds a
// writer slot free commits whatever is waiting (at least its own event) at
// once, so a lone request is not delayed; requests that arrive while all
// slots are busy wait and are carried by the next commit. An Intake needs
// no closing.
//
// Errors are *fault.Error: NotFound for an unknown environment or flow,
// Conflict when nothing is deployed, Malformed (wrapping ErrBadJSON) for a
// body that is not JSON, Invalid (wrapping ErrKeyReused where that applies)
// for a bad event, TooLarge over the engine's limits, Unavailable (with
// RetryAfterSeconds) when the database cannot be reached.
type Intake struct {
	db     store.DB
	client *river.Client[pgx.Tx]
	cfg    Config

	slots chan struct{}

	mu      sync.Mutex
	waiting []*intakeItem

	cache resolveCache
}

// New returns an Intake writing to db and enqueueing with client.
func New(db store.DB, client *river.Client[pgx.Tx], cfg Config) *Intake {
	if cfg.Writers <= 0 {
		cfg.Writers = 1
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = ProcessGroupSize
	}
	if cfg.ResolveTTL <= 0 {
		cfg.ResolveTTL = 2 * time.Second
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = 10 * time.Second
	}
	return &Intake{db: db, client: client, cfg: cfg, slots: make(chan struct{}, cfg.Writers),
		cache: resolveCache{entries: map[string]resolved{}}}
}

// intakeItem is one event waiting for a group commit, and its answer.
type intakeItem struct {
	d    deployed
	p    prepared
	done chan struct{}
	res  AcceptResult
	err  error
	// stale says the deployment changed after resolution: the caller
	// resolves again and resubmits.
	stale bool
	// arrival is the item's place in the group as it came (a batch's
	// lines in order): the order messages with a sequence key take.
	arrival int
}

// errStaleDeployment is internal: the item must be resolved again.
var errStaleDeployment = errors.New("deployment changed since the trigger URL was resolved")

// Accept records one event durably, sharing the transaction with
// concurrent requests. Concurrent identical requests yield one message:
// the unique key makes the second insert wait for the first and then find
// it.
func (in *Intake) Accept(ctx context.Context, req AcceptRequest) (AcceptResult, error) {
	res, err := in.accept(ctx, req)
	return res, unavailable(err)
}

func (in *Intake) accept(ctx context.Context, req AcceptRequest) (AcceptResult, error) {
	// A deploy between resolution and insert sends the event round again;
	// three rounds in a row would mean deploys every few milliseconds.
	for range 3 {
		d, err := in.cache.resolve(ctx, in.db, req.Env, req.FlowSlug, in.cfg.ResolveTTL)
		if err != nil {
			return AcceptResult{}, err
		}
		p, err := prepare(ctx, d, req.Payload, req.IdempotencyKey, req.CorrelationID, req.Now)
		if err != nil {
			return AcceptResult{}, err
		}
		it := &intakeItem{d: d, p: p, done: make(chan struct{})}
		in.submit(ctx, it)
		if !it.stale {
			return it.res, it.err
		}
		in.cache.forget(req.Env, req.FlowSlug)
	}
	return AcceptResult{}, fault.Errorf(fault.Unavailable, "flow “%s” is being deployed to %s repeatedly; send the event again", req.FlowSlug, req.Env)
}

// submit queues it and returns when it has been answered. The caller either
// gets a writer slot and commits what is waiting (its own event among
// them, unless another writer took it), or its event is committed by
// another writer meanwhile.
func (in *Intake) submit(ctx context.Context, it *intakeItem) {
	in.mu.Lock()
	in.waiting = append(in.waiting, it)
	in.mu.Unlock()
	select {
	case in.slots <- struct{}{}:
	case <-it.done:
		return
	}
	for {
		in.mu.Lock()
		n := min(len(in.waiting), in.cfg.MaxBatch)
		batch := slices.Clone(in.waiting[:n])
		in.waiting = slices.Delete(in.waiting, 0, n)
		in.mu.Unlock()
		if len(batch) == 0 {
			break
		}
		in.commit(ctx, batch)
		select {
		case <-it.done:
		default:
			continue // ours is still waiting or in another writer's batch; help meanwhile
		}
		break
	}
	<-in.slots
	<-it.done
}

// commit writes batch in one transaction and answers every item. The batch
// is not bound to the context of the request that happens to write it,
// only to CommitTimeout, so one caller going away fails no one else.
func (in *Intake) commit(ctx context.Context, batch []*intakeItem) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.cfg.CommitTimeout)
	defer cancel()
	arrived := slices.Clone(batch)
	for i, it := range batch {
		it.arrival = i
	}
	// A fixed order of keys makes two writers inserting overlapping keys
	// wait for each other instead of deadlocking. Stable, so that events
	// with the same key are inserted in the order they came (the lines of
	// a batch).
	slices.SortStableFunc(batch, func(a, b *intakeItem) int {
		return cmp.Or(cmp.Compare(a.d.envID, b.d.envID), cmp.Compare(a.d.flowID, b.d.flowID), cmp.Compare(a.p.key, b.p.key))
	})
	err := in.writeTx(ctx, batch)
	if err != nil && len(batch) > 1 && fault.CodeOf(unavailable(err)) != fault.Unavailable {
		// Something in the batch broke the statement (a payload PostgreSQL
		// refuses, a deadlock): write each event on its own so only the
		// event at fault fails; in the order they came, which messages
		// with a sequence key keep.
		for _, it := range arrived {
			_ = in.writeTx(ctx, []*intakeItem{it})
		}
	}
	for _, it := range batch {
		close(it.done)
	}
}

// writeTx writes group in one transaction and answers each of its items;
// when the transaction fails, every item's answer is that error.
func (in *Intake) writeTx(ctx context.Context, group []*intakeItem) error {
	for _, it := range group {
		it.res, it.err, it.stale = AcceptResult{}, nil, false
	}
	err := txn.Run(ctx, in.db, func(tx pgx.Tx) error { return in.write(ctx, tx, group) })
	if err != nil {
		for _, it := range group {
			it.res, it.err, it.stale = AcceptResult{}, err, false
		}
	}
	return err
}

func (in *Intake) write(ctx context.Context, tx pgx.Tx, batch []*intakeItem) error {
	n := len(batch)
	ids := make([]uuid.UUID, n)
	envs, flows, deps := make([]int64, n), make([]int64, n), make([]int64, n)
	versions := make([]int32, n)
	checksums, keys, corrs, payloads, details := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	channels, sequences, latest := make([]string, n), make([]string, n), make([]bool, n)
	customers, amounts := make([]string, n), make([]string, n)
	arrivals := make([]int32, n)
	shas := make([][]byte, n)
	ats := make([]time.Time, n)
	for i, it := range batch {
		ids[i], envs[i], flows[i], deps[i], versions[i] = it.p.id, it.d.envID, it.d.flowID, it.d.deploymentID, int32(it.d.version)
		checksums[i], keys[i], corrs[i], payloads[i] = it.d.checksum, it.p.key, it.p.correlation, string(it.p.payload)
		shas[i], ats[i], details[i], channels[i] = it.p.sha[:], it.p.now, receivedDetail(it.d, it.p), it.p.channel
		sequences[i], latest[i], arrivals[i] = it.p.sequence, it.p.latest, int32(it.arrival)
		customers[i], amounts[i] = it.p.customer, it.p.amount
	}
	rows, err := tx.Query(ctx, groupInsertSQL, ids, envs, flows, deps, versions, checksums, keys, corrs, payloads, shas, ats, details, channels, sequences, latest, arrivals, customers, amounts)
	if err != nil {
		return fmt.Errorf("insert messages: %w", err)
	}
	inserted, live := make([]bool, n), make([]bool, n)
	for rows.Next() {
		var ord int
		var ins, lv bool
		if err := rows.Scan(&ord, &ins, &lv); err != nil {
			rows.Close()
			return fmt.Errorf("insert messages: %w", err)
		}
		inserted[ord-1], live[ord-1] = ins, lv
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert messages: %w", err)
	}

	var accepted []uuid.UUID
	for i, it := range batch {
		switch {
		case !live[i]:
			it.stale, it.err = true, errStaleDeployment
		case inserted[i]:
			accepted = append(accepted, it.p.id)
			it.res = AcceptResult{MessageID: it.p.id, IdempotencyKey: it.p.key, CorrelationID: it.p.correlation, StatusURL: StatusURL(it.p.id),
				EnvironmentID: it.d.envID, FlowID: it.d.flowID, VersionNumber: it.d.version, ReceivedAt: it.p.now}
		default:
			// The key is claimed: by an earlier message, by another writer's
			// commit this statement waited for, or by an event earlier in this
			// very group (another request, or an earlier line of a batch).
			r, err := existing(ctx, tx, it.d, it.p)
			if _, ok := fault.As(err); ok {
				it.err = err
				continue
			}
			if err != nil {
				return err
			}
			it.res = r
		}
	}
	// The group's messages are processed together too (see ProcessArgs),
	// in the order they arrived (message ids are time-ordered), so a
	// batch's jobs carry consecutive lines.
	slices.SortFunc(accepted, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	var jobs []river.InsertManyParams
	for chunk := range slices.Chunk(accepted, ProcessGroupSize) {
		jobs = append(jobs, river.InsertManyParams{Args: ProcessArgs{MessageIDs: chunk}})
	}
	if len(jobs) > 0 {
		// InsertManyTx, a single prepared statement, rather than the COPY of
		// InsertManyFastTx: a group commit carries one or two jobs, a batch
		// at most eight, and COPY costs an extra round trip and a statement
		// PostgreSQL cannot cache.
		if _, err := in.client.InsertManyTx(ctx, tx, jobs); err != nil {
			return fmt.Errorf("enqueue processing: %w", err)
		}
	}
	return nil
}

// resolveCache remembers what trigger URLs resolve to, briefly. Only
// successes are kept: an unknown flow or a missing deployment is looked up
// again on the next request, so fixing it takes effect at once.
type resolveCache struct {
	mu      sync.Mutex
	entries map[string]resolved
}

type resolved struct {
	d  deployed
	at time.Time
}

// resolveCacheSize bounds the cache; environments × flows is small, the
// bound only guards against a flood of distinct URLs.
const resolveCacheSize = 4096

func (c *resolveCache) resolve(ctx context.Context, db store.DB, env, flow string, ttl time.Duration) (deployed, error) {
	k := env + "\x00" + flow
	now := time.Now()
	c.mu.Lock()
	r, ok := c.entries[k]
	c.mu.Unlock()
	if ok && now.Sub(r.at) < ttl {
		return r.d, nil
	}
	d, err := resolve(ctx, db, env, flow)
	if err != nil {
		return deployed{}, err
	}
	c.mu.Lock()
	if len(c.entries) >= resolveCacheSize {
		c.entries = map[string]resolved{}
	}
	c.entries[k] = resolved{d: d, at: now}
	c.mu.Unlock()
	return d, nil
}

func (c *resolveCache) forget(env, flow string) {
	c.mu.Lock()
	delete(c.entries, env+"\x00"+flow)
	c.mu.Unlock()
}
