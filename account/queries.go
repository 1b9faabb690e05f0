package account

// This file holds every SQL statement the package runs, grouped by the
// table each writes or, for a read, reads first; the functions in the other
// files run them by name. A statement with a part put together at run time
// keeps its fixed parts here and its assembly beside the function that runs it.

// api_keys: keys for the JSON API, their secret stored hashed.

// apiKeyColumns are the columns of an APIKey, in apiKeyDest's order.
const apiKeyColumns = `id, name, prefix, environment, flows, rate_per_minute, can_manage, can_support, created_by, created_at, revoked_at, last_used_at, can_configure`

// apiKeyRevoke revokes a key and returns it with its revocation time before
// the update, for APIKeyRevoke: the subquery locks the row and reads its
// state first. It is put together once, at start-up, to qualify the
// returned columns.
var apiKeyRevoke = `
		update api_keys k set revoked_at = coalesce(k.revoked_at, now()), revoked_by = coalesce(k.revoked_by, $2)
		from (select id, revoked_at from api_keys where prefix = $1 for update) old
		where k.id = old.id
		returning ` + prefixColumns("k.", apiKeyColumns) + `, old.revoked_at`

// apiKeyInsert inserts into api_keys for APIKeyCreate.
const apiKeyInsert = `
		insert into api_keys (name, prefix, secret_hash, environment, flows, rate_per_minute, can_manage, can_support, created_by, can_configure)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		returning ` + apiKeyColumns

// apiKeyByPrefixSelect reads api_keys for APIKeyAuthenticate.
const apiKeyByPrefixSelect = `select ` + apiKeyColumns + `, secret_hash from api_keys where prefix = $1`

// apiKeyUsedUpdate updates api_keys for APIKeyAuthenticate.
const apiKeyUsedUpdate = `
			update api_keys set last_used_at = $2
			where id = $1 and (last_used_at is null or last_used_at <= $2::timestamptz - interval '1 minute')`

// apiKeyListSelect reads api_keys for APIKeyList.
const apiKeyListSelect = `select ` + apiKeyColumns + ` from api_keys order by revoked_at is not null, created_at desc`

// audit_entries: who changed what, and when.

// auditSelect and auditOrder surround the WHERE clause AuditList builds
// with internal/sqlwhere; the limit's placeholder comes last.
const (
	auditSelect = `select id, at, actor_id, actor_email, action, target_type, target_id, before, after, request_id, address from audit_entries`
	auditOrder  = " order by id desc limit "
)

// auditInsert inserts into audit_entries for Audit.
const auditInsert = `
		insert into audit_entries (actor_id, actor_email, action, target_type, target_id, before, after, request_id, address)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// login_attempts: sign-in attempts, kept for throttling.

// attemptSucceeded marks a sign-in attempt as succeeded (a sign-in, or a
// password change that proved the password).
const attemptSucceeded = `update login_attempts set succeeded = true where id = $1`

// signInLock takes the transaction's advisory locks on an account and an
// address, account first, for reserveAttempt.
const signInLock = `select pg_advisory_xact_lock(hashtextextended('crossdock sign-in account ' || lower($1), 0)),
		       pg_advisory_xact_lock(hashtextextended('crossdock sign-in address ' || $2, 0))`

// attemptInsert inserts into login_attempts for reserveAttempt.
const attemptInsert = `insert into login_attempts (email, address, succeeded, at) values ($1, $2, false, $3) returning id`

// accountFailuresSelect counts an account's recent failed sign-ins, for
// checkThrottle.
const accountFailuresSelect = `
		select count(*), min(at) from login_attempts
		where lower(email) = lower($1) and not succeeded and at > $2
		  and at > coalesce((select max(at) from login_attempts where lower(email) = lower($1) and succeeded), '-infinity')`

// addressFailuresSelect counts an address's recent failed sign-ins, for
// checkThrottle.
const addressFailuresSelect = `
		select count(*), min(at) from login_attempts where address = $1 and not succeeded and at > $2`

// users: the people who sign in, and their roles.

// userColumns are the columns of a User, in scanUser's order.
const userColumns = `id, email, name, role, active, created_at, updated_at, last_login_at, session_generation`

// passwordHashSelect reads users for PasswordChange.
const passwordHashSelect = `select password_hash from users where id = $1 and active`

// userByEmailForSignInSelect reads users for Authenticate.
const userByEmailForSignInSelect = `select ` + userColumns + `, password_hash from users where lower(email) = lower($1)`

// lastLoginUpdate updates users for Authenticate.
const lastLoginUpdate = `update users set last_login_at = $2 where id = $1`

// userInsert inserts into users for UserCreate.
const userInsert = `
		insert into users (email, name, role, password_hash) values ($1, $2, $3, $4)
		returning ` + userColumns

// userByIDSelect reads users for UserByID.
const userByIDSelect = `select ` + userColumns + ` from users where id = $1`

// userListSelect reads users for UserList.
const userListSelect = `select ` + userColumns + ` from users order by active desc, lower(email)`

// userCountSelect reads users for UserCount.
const userCountSelect = `select count(*) from users`

// lastAdminSelect reads whether a user is an active admin and how many
// other active admins there are, for UserUpdate.
const lastAdminSelect = `
			select exists (select 1 from users where id = $1 and role = 'admin' and active),
			       (select count(*) from users where role = 'admin' and active and id <> $1)`

// userUpdate updates users for UserUpdate.
const userUpdate = `
		update users set name = $2, role = $3, active = $4, updated_at = now(),
		       session_generation = session_generation + case when role <> $3 then 1 else 0 end
		where id = $1
		returning ` + userColumns

// passwordUpdate updates users for UserSetPassword.
const passwordUpdate = `
		update users set password_hash = $2, updated_at = now(), session_generation = session_generation + 1
		where id = $1 returning session_generation`

// userByEmailSelect reads users for UserByEmail.
const userByEmailSelect = `select ` + userColumns + ` from users where lower(email) = lower($1)`
