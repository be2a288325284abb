-- Trusted origins change in place (PUT, lifecycle): a revision for compare-and-swap.
ALTER TABLE trusted_origins ADD COLUMN rev bigint NOT NULL DEFAULT 0;
