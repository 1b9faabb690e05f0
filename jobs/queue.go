package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/crossdock/crossdock/internal/txn"
)

// QueueDepth is how many River jobs of one queue wait or run, and how long
// the oldest available one has waited.
type QueueDepth struct {
	Queue           string
	Available       int64
	Scheduled       int64
	Retryable       int64
	Running         int64
	OldestAvailable time.Duration
}

// QueueDepths reads every queue's depth from River's job table (one
// aggregate over the unfinished jobs, which River's fetch index covers),
// in queue order. The default, process and deliver queues are always
// listed.
func QueueDepths(ctx context.Context, db txn.DBTX) ([]QueueDepth, error) {
	rows, err := db.Query(ctx, `
		with q(queue) as (values ('default'), ($1::text), ($2::text))
		select q.queue,
		       count(j.id) filter (where j.state = 'available'),
		       count(j.id) filter (where j.state = 'scheduled'),
		       count(j.id) filter (where j.state = 'retryable'),
		       count(j.id) filter (where j.state = 'running'),
		       coalesce(extract(epoch from now() - min(j.scheduled_at) filter (where j.state = 'available')), 0)
		from (select queue from q union select distinct queue from river_job
		      where state in ('available', 'scheduled', 'retryable', 'running')) q
		left join river_job j on j.queue = q.queue and j.state in ('available', 'scheduled', 'retryable', 'running')
		group by q.queue order by q.queue`, QueueProcess, QueueDeliver)
	if err != nil {
		return nil, fmt.Errorf("queue depths: %w", err)
	}
	defer rows.Close()
	var out []QueueDepth
	for rows.Next() {
		var d QueueDepth
		var oldest float64
		if err := rows.Scan(&d.Queue, &d.Available, &d.Scheduled, &d.Retryable, &d.Running, &oldest); err != nil {
			return nil, fmt.Errorf("queue depths: %w", err)
		}
		d.OldestAvailable = time.Duration(max(oldest, 0) * float64(time.Second))
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue depths: %w", err)
	}
	return out, nil
}
