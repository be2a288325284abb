-- Admin roles (a user holds each role once) and named API tokens, found by the digest of
-- their value.
CREATE TABLE admin_roles (
    user_id text NOT NULL,
    role text NOT NULL,
    id text NOT NULL UNIQUE,
    record jsonb NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE api_tokens (
    id text PRIMARY KEY,
    digest bytea NOT NULL UNIQUE,
    user_id text NOT NULL,
    rev bigint NOT NULL DEFAULT 1,
    record jsonb NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
