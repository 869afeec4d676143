-- The transparency log (RFC 9162 Merkle tree): append-only, idx dense from 0.
-- entry holds the exact canonical JSON text that is the leaf; leaf_sha256 is
-- its RFC 9162 leaf hash, SHA-256(0x00 || entry), in hex.
CREATE TABLE log_entries (
    idx BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    entry TEXT NOT NULL,
    leaf_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- One row holding the log's size. Appenders take the next index by updating
-- it, so its row lock serialises appends across connections and node
-- replicas until each appender commits: indices are dense and never reused.
CREATE TABLE log_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL
);
INSERT INTO log_head (id, size) VALUES (1, 0);

ALTER TABLE versions ADD COLUMN log_index BIGINT;
