package jobs

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/google/uuid"

	"github.com/crossdock/crossdock/jobs/transport/httptarget"
)

// IntakeCommitWithRawPayload commits a group in which the event at index
// bad carries raw (bytes no request can get past CheckJSON, such as
// invalid UTF-8), to test that one event PostgreSQL refuses fails alone.
func IntakeCommitWithRawPayload(ctx context.Context, in *Intake, env, flow string, payloads [][]byte) ([]AcceptResult, []error, error) {
	d, err := in.cache.resolve(ctx, in.db, env, flow, time.Minute)
	if err != nil {
		return nil, nil, err
	}
	items := make([]*intakeItem, len(payloads))
	for i, p := range payloads {
		id, _ := uuid.NewV7()
		items[i] = &intakeItem{d: d, done: make(chan struct{}),
			p: prepared{id: id, key: id.String(), keySource: "generated", correlation: id.String(), payload: p, sha: sha256.Sum256(p), now: time.Now()}}
	}
	in.commit(ctx, items)
	res, errs := make([]AcceptResult, len(items)), make([]error, len(items))
	for i, it := range items {
		<-it.done
		res[i], errs[i] = it.res, it.err
	}
	return res, errs, nil
}

// GenericPlans is genericPlans, for its test.
var GenericPlans = genericPlans

// SameOrigin is the http transport's, for the test of the target
// redirect policy.
var SameOrigin = httptarget.SameOrigin
