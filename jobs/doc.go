// Package jobs is the River wiring: NewClient builds the one River client
// with its queues, every worker and the periodic jobs, and this package
// holds the housekeeping job (MaintenanceWorker) and the tracing
// middleware. The work itself lives in packages named for one
// responsibility each, which this package imports and none of which
// imports it:
//
//   - jobs/intake is the one way in: single events, batches and
//     synchronous mapping, committed in groups; each message, its received
//     lineage and its process job are in one transaction.
//   - jobs/pipeline processes and delivers. A process job carries the
//     messages of one commit or batch and maps them in one transaction; it
//     makes first attempts itself when targets have lately answered
//     quickly, leaves the rest to one DeliverGroupArgs job, and anything
//     but an immediate success or a final refusal continues in a
//     DeliverArgs job of its own, which owns retries, back-off and
//     exceptions for that delivery.
//   - jobs/inbox works the exceptions: triage, retry, replay, bulk actions.
//   - jobs/insight reads: dashboard, explorer, rollups, retention,
//     notifications.
//   - jobs/store (messages, lineage, deliveries, exceptions), jobs/program
//     (compiled versions) and jobs/queue (queue names) sit below them all.
//
// The tests here are of the wiring itself: shutdown, rescue, housekeeping,
// a transport registered through Config, the whole pipeline under load.
// Each package's own tests are beside it and set up with jobs/jobstest.
//
// River is at-least-once: every worker must be safe to run twice.
package jobs
