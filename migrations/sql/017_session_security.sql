-- Browser sessions are stored under the SHA-256 of their token
-- (web.HashedTokens), so a read of this table alone cannot be used to sign
-- in. Rows written before held the plain token and can no longer be found:
-- they are removed, and everyone signs in again once.
delete from sessions;

-- A browser session carries the generation of its user it was signed in
-- with; changing the password or the role bumps it, which ends the user's
-- other sessions in every serve process on their next request.
alter table users add column session_generation bigint not null default 0;
