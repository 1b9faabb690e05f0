// Package jobs is Crossdock's runtime: the River client and its workers.
// Today it runs housekeeping; trigger intake, processing, delivery, lineage
// and exceptions arrive with the delivery pipeline.
//
// River is at-least-once: every worker here must be safe to run twice.
package jobs
