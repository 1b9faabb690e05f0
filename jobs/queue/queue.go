package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/crossdock/crossdock/internal/txn"
)

// The queues. Processing and delivery have their own so that a slow or
// failing target (many deliver jobs waiting on timeouts) never holds up
// mapping new messages, and housekeeping never competes with either.
const (
	Process = "process"
	Deliver = "deliver"
)

// Depth is how many River jobs of one queue wait or run, and how long
// the oldest available one has waited.
type Depth struct {
	Queue           string
	Available       int64
	Scheduled       int64
	Retryable       int64
	Running         int64
	OldestAvailable time.Duration
}

// Depths reads every queue's depth from River's job table (one
// aggregate over the unfinished jobs, which River's fetch index covers),
// in queue order. The default, process and deliver queues are always
// listed.
func Depths(ctx context.Context, db txn.DBTX) ([]Depth, error) {
	rows, err := db.Query(ctx, queueDepths, Process, Deliver)
	if err != nil {
		return nil, fmt.Errorf("queue depths: %w", err)
	}
	defer rows.Close()
	var out []Depth
	for rows.Next() {
		var d Depth
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
