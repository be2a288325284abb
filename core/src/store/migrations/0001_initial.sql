-- Portcullis schema, version 1. One table per kind of record: the columns that lookups,
-- listings, uniqueness and the expiry sweep need, and the whole record as jsonb. Times are
-- milliseconds since the Unix epoch. `rev` counts writes, for compare-and-swap updates.

CREATE TABLE users (
    id text PRIMARY KEY,
    login_key text NOT NULL UNIQUE,
    status text NOT NULL,
    email_key text NOT NULL,
    first_key text NOT NULL,
    last_key text NOT NULL,
    created bigint NOT NULL,
    rev bigint NOT NULL DEFAULT 1,
    record jsonb NOT NULL
);
-- The admin API filters by status and searches logins, emails and names by prefix.
CREATE INDEX users_status ON users (status);
CREATE INDEX users_login_prefix ON users (login_key text_pattern_ops);
CREATE INDEX users_email_prefix ON users (email_key text_pattern_ops);
CREATE INDEX users_first_prefix ON users (first_key text_pattern_ops);
CREATE INDEX users_last_prefix ON users (last_key text_pattern_ops);

CREATE TABLE factors (
    user_id text NOT NULL,
    id text NOT NULL,
    created bigint NOT NULL,
    rev bigint NOT NULL DEFAULT 1,
    record jsonb NOT NULL,
    PRIMARY KEY (user_id, id)
);

CREATE TABLE session_tokens (
    digest bytea PRIMARY KEY,
    expires_at bigint NOT NULL,
    record jsonb NOT NULL
);
CREATE INDEX session_tokens_expiry ON session_tokens (expires_at);

CREATE TABLE authn_transactions (
    digest bytea PRIMARY KEY,
    rev bigint NOT NULL,
    expires_at bigint NOT NULL,
    record jsonb NOT NULL
);
CREATE INDEX authn_transactions_expiry ON authn_transactions (expires_at);

CREATE TABLE recovery_tokens (
    digest bytea PRIMARY KEY,
    expires_at bigint NOT NULL,
    record jsonb NOT NULL
);
CREATE INDEX recovery_tokens_expiry ON recovery_tokens (expires_at);

CREATE TABLE sessions (
    digest bytea PRIMARY KEY,
    id text NOT NULL UNIQUE,
    user_id text NOT NULL,
    expires_at bigint NOT NULL,
    rev bigint NOT NULL DEFAULT 1,
    record jsonb NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE groups (
    id text PRIMARY KEY,
    name_key text NOT NULL UNIQUE,
    record jsonb NOT NULL
);

CREATE TABLE group_members (
    group_id text NOT NULL,
    user_id text NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE apps (
    id text PRIMARY KEY,
    record jsonb NOT NULL
);

CREATE TABLE app_users (
    app_id text NOT NULL,
    user_id text NOT NULL,
    PRIMARY KEY (app_id, user_id)
);
CREATE INDEX app_users_user ON app_users (user_id);

CREATE TABLE app_groups (
    app_id text NOT NULL,
    group_id text NOT NULL,
    PRIMARY KEY (app_id, group_id)
);
CREATE INDEX app_groups_group ON app_groups (group_id);

CREATE TABLE trusted_origins (
    id text PRIMARY KEY,
    origin text NOT NULL UNIQUE,
    record jsonb NOT NULL
);

CREATE TABLE signing_keys (
    server text NOT NULL,
    kid text NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (server, kid)
);

CREATE TABLE clients (
    client_id text PRIMARY KEY,
    record jsonb NOT NULL
);

CREATE TABLE auth_codes (
    digest bytea PRIMARY KEY,
    used boolean NOT NULL DEFAULT false,
    expires_at bigint NOT NULL,
    record jsonb NOT NULL
);
CREATE INDEX auth_codes_expiry ON auth_codes (expires_at);

CREATE TABLE refresh_tokens (
    digest bytea PRIMARY KEY,
    user_id text NOT NULL,
    client_id text NOT NULL,
    expires_at bigint NOT NULL,
    rev bigint NOT NULL DEFAULT 1,
    record jsonb NOT NULL
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_client ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

CREATE TABLE revoked (
    key text PRIMARY KEY,
    until bigint NOT NULL
);
CREATE INDEX revoked_until ON revoked (until);

CREATE TABLE auth_servers (
    id text PRIMARY KEY,
    rev bigint NOT NULL,
    created bigint NOT NULL,
    record jsonb NOT NULL
);

CREATE TABLE consent_grants (
    user_id text NOT NULL,
    id text NOT NULL,
    created bigint NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (user_id, id)
);

CREATE TABLE meta (
    key text PRIMARY KEY,
    value text NOT NULL
);
