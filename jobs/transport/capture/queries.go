package capture

// This file holds the SQL statement the package runs.

// captures: the request a capture target records instead of sending.

// captureInsert records a delivery's capture for Send; a rerun of the same
// delivery records nothing more.
const captureInsert = `
		insert into captures (delivery_id, environment_id, target, method, url, headers, body)
		values ($1, $2, $3, $4, $5, $6, $7) on conflict (delivery_id) do nothing`
