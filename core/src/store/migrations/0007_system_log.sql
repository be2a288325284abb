-- The System Log, in time order; the cursor of a page is `{published}_{uuid}`.
CREATE TABLE system_log (
    published bigint NOT NULL,
    uuid text COLLATE "C" NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (published, uuid)
);
