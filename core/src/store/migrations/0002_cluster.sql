-- Version 2: what several nodes on one database coordinate through.

-- A cluster-wide job (the expiry sweeper, key rotation) runs on the node holding its lease.
CREATE TABLE leases (
    name text PRIMARY KEY,
    holder text NOT NULL,
    until bigint NOT NULL
);

-- Per-username rate limits count every node's requests, in fixed windows.
CREATE TABLE rate_counters (
    key text NOT NULL,
    window_start bigint NOT NULL,
    hits integer NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_counters_window ON rate_counters (window_start);
