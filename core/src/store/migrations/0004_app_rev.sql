-- Apps change in place (PUT, lifecycle): a revision for compare-and-swap.
ALTER TABLE apps ADD COLUMN rev bigint NOT NULL DEFAULT 0;
