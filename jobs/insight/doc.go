// Package insight answers what is happening: the dashboard's rollups and
// queries, the message explorer's search, retention of old messages and
// notifications about exception groups. It reads what the other jobs
// packages write and writes only its own tables (rollups, notification
// state) and deletions of expired messages, so it imports the message
// store (jobs/store) and the queue names (jobs/queue), never intake, the
// pipeline or the inbox.
package insight
