-- Upstream identity providers (the client secret sealed inside the record), and which
-- account each upstream subject is linked to.
CREATE TABLE idps (
    id text PRIMARY KEY,
    rev bigint NOT NULL DEFAULT 1,
    record jsonb NOT NULL
);

CREATE TABLE idp_links (
    idp_id text NOT NULL,
    external_id text NOT NULL,
    user_id text NOT NULL,
    PRIMARY KEY (idp_id, external_id)
);
CREATE INDEX idp_links_user ON idp_links (user_id);
