// Package intake is the one way a message enters Crossdock: single events
// (Intake.Accept), NDJSON batches (AcceptBatch) and synchronous mapping
// (MapInline). It checks the payload, claims the idempotency key and
// writes the message, its received lineage and its process job
// (ProcessArgs) in one transaction, committing the events of concurrent
// requests together (group commit) and answering each only after its
// commit. It imports the message store, the program cache and the queue
// names below it, never the pipeline, the inbox or insight.
package intake
