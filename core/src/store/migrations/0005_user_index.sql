-- The user attribute index (see store::user_index): one row for each attribute a user has,
-- written in the transaction that writes the user, so that `search` finds and sorts users by
-- any attribute through the primary key. Byte order ("C"), as the embedded store sorts.
CREATE TABLE user_index (
    attr text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    user_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (attr, value, user_id)
);
CREATE INDEX user_index_user ON user_index (user_id);
