-- The DID of the key that signs this database's log. Checked at every
-- start: a node must never sign on under another key, nor start a second
-- log under its key because its database went missing.
CREATE TABLE node_identity (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    did TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
