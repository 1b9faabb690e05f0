-- Browser sessions are stored under the SHA-256 of their token
-- (web.HashedTokens), so a read of this table alone cannot be used to sign
-- in. Rows written before held the plain token and can no longer be found:
-- they are removed, and everyone signs in again once.
delete from sessions;
