-- The log's Merkle tree as stored: the hash of every complete, aligned
-- subtree (`ledger::stored`), written in the transaction that appends the
-- leaf completing it. `node` packs the subtree's level and index as
-- level * 2^48 + index, one integer key both backends index alike. A log
-- written before this table existed is converted once, at start-up.
CREATE TABLE log_tree (
    node BIGINT PRIMARY KEY,
    hash TEXT NOT NULL
);

-- Checkpoints as signed: one note per tree size, signed once.
CREATE TABLE checkpoints (
    size BIGINT PRIMARY KEY,
    note TEXT NOT NULL,
    signed_at TEXT NOT NULL
);
