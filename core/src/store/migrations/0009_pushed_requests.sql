-- Pushed authorization requests (RFC 9126), by the digest of their request_uri, until a
-- browser brings that to the authorization endpoint once.
CREATE TABLE pushed_requests (
    digest bytea PRIMARY KEY,
    expires_at bigint NOT NULL,
    record jsonb NOT NULL
);
CREATE INDEX pushed_requests_expiry ON pushed_requests (expires_at);
