package queue

// This file holds every SQL statement the package runs, grouped by the
// table each writes or, for a read, reads first; the functions in the other
// files run them by name. A statement with a part put together at run time
// keeps its fixed parts here and its assembly beside the function that runs it.

// river_job: River's jobs, counted by queue.

// queueDepths counts each queue's jobs by state and how long its oldest
// available job has waited, for Depths.
const queueDepths = `
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
		group by q.queue order by q.queue`
