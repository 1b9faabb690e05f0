// Package inbox is where people work the exceptions the pipeline raises:
// the inbox list and its filters, exception groups, triage (assign,
// comment, resolve, ignore, retry), the details that help decide (mapping
// errors with a caret, unmapped lookup values, request headers), replay
// on another version and bulk actions (BulkWorker). Each operation checks
// its preconditions and writes its state, lineage and audit entry in one
// transaction. It imports the message store, the program cache, intake's
// ProcessArgs and the pipeline (a retry enqueues a delivery again); no
// jobs package imports it but the River wiring.
package inbox
