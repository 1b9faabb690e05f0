// Package pipeline moves accepted messages to their targets: the process
// job (ProcessWorker: validate, map, route, steps) and the deliver jobs
// (DeliverWorker, DeliverGroupWorker: send through a transport, retry,
// back off, open circuits, raise exceptions), with one way to record an
// attempt and its lineage (attempt.go), the order of the messages of one
// sequence key (sequence.go: held deliveries released lane by lane) and
// the orphan check that finds messages no job holds. Transports lists the target kinds it delivers
// to. It imports the message store, the program cache, the queue names,
// the transports and intake's ProcessArgs; never the inbox or insight.
//
// River is at-least-once: every worker here must be safe to run twice.
package pipeline
