// Package jobs is Crossdock's runtime: trigger intake, the River client and
// its workers, lineage, messages and the exception records the inbox works
// from.
//
// A message travels in groups where it can, so that throughput is not one
// transaction and one River job per step per message:
//
//   - Intake is the one way in: it commits the events of concurrent
//     requests together (Accept, MapInline) and a batch's lines in one
//     commit (AcceptBatch): each message, its received lineage and its
//     process job are still in one transaction, answered only after it
//     commits.
//   - A process job (ProcessArgs) carries the messages of one commit or
//     NDJSON batch; they are mapped and written in one transaction, one by
//     one if that fails.
//   - The process job makes its deliveries' first attempts itself when
//     their targets have lately answered quickly, and writes what was
//     delivered in the same transaction as the routing. First attempts it
//     leaves (slow targets, rate limits, open circuits, capture targets)
//     go out as one DeliverGroupArgs job. Anything but an immediate
//     success or a final refusal continues in a DeliverArgs job of its
//     own, which owns retries, back-off, snoozes and exceptions for that
//     delivery.
//
// River is at-least-once: every worker here must be safe to run twice.
package jobs
