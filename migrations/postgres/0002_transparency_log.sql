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

ALTER TABLE versions ADD COLUMN log_index BIGINT;
