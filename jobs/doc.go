// Package jobs is Crossdock's runtime: trigger intake (a message, its
// lineage and its process job in one transaction), the River client and its
// workers (process, deliver, orphan check, housekeeping), lineage, messages
// and the exception records the inbox works from.
//
// River is at-least-once: every worker here must be safe to run twice.
package jobs
