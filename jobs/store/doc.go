// Package store is the message store: messages, their lineage, deliveries
// and attempts, captures and the exception records, with the reads every
// job package shares and the writes that keep a message's lineage and
// status consistent (AddLineage, RaiseException, RecomputeMessageStatus).
// Intake, the pipeline, the inbox and insight all build on it, so it
// imports no other jobs package: only internal helpers.
package store
