package jobs

// This file holds every SQL statement the package runs, grouped by the
// table each writes or, for a read, reads first; the functions in the other
// files run them by name. A statement with a part put together at run time
// keeps its fixed parts here and its assembly beside the function that runs it.

// login_attempts: sign-in attempts kept for throttling.

// loginAttemptsOldDelete deletes from login_attempts for MaintenanceWorker.
const loginAttemptsOldDelete = `delete from login_attempts where at < $1`

// messages: idempotency key claims past their window.

// keyClaimsRelease updates messages for ReleaseKeyClaims.
const keyClaimsRelease = `
			update messages set key_claim = null
			where id in (select id from messages where key_claim is not null and received_at < $1 limit $2)`

// sessions: signed-in sessions past their expiry.

// sessionsExpiredDelete deletes from sessions for MaintenanceWorker.
const sessionsExpiredDelete = `delete from sessions where expiry < $1`
