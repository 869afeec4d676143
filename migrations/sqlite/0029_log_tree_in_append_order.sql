-- The log's tables are written at their right edge only, one batch after
-- another; keyed in the order they are written, a batch dirties the last page
-- or two of each table rather than a page per tree level.
--
-- log_tree's key becomes (last leaf the subtree covers) * 64 + level: every
-- hash a leaf completes carries that leaf, so keys grow as the log does. (The
-- old key, level * 2^48 + index, put each level in a range of its own: a
-- batch wrote into as many leaf pages as levels it completed.)
--
-- On SQLite the three tables also become keyed by their integer itself
-- (`INTEGER PRIMARY KEY`, the row id): `BIGINT PRIMARY KEY` kept a second
-- b-tree beside each table, one more page per batch.
CREATE TABLE log_tree_in_append_order (
    node INTEGER PRIMARY KEY,
    hash TEXT NOT NULL
);
INSERT INTO log_tree_in_append_order (node, hash)
    SELECT (((((node & 281474976710655) + 1) << (node >> 48)) - 1) << 6) | (node >> 48), hash
    FROM log_tree;
DROP TABLE log_tree;
ALTER TABLE log_tree_in_append_order RENAME TO log_tree;

CREATE TABLE log_entries_by_row_id (
    idx INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    entry TEXT NOT NULL,
    leaf_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO log_entries_by_row_id (idx, kind, entry, leaf_sha256, created_at)
    SELECT idx, kind, entry, leaf_sha256, created_at FROM log_entries;
DROP TABLE log_entries;
ALTER TABLE log_entries_by_row_id RENAME TO log_entries;

CREATE TABLE checkpoints_by_row_id (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL,
    signed_at TEXT NOT NULL
);
INSERT INTO checkpoints_by_row_id (size, note, signed_at)
    SELECT size, note, signed_at FROM checkpoints;
DROP TABLE checkpoints;
ALTER TABLE checkpoints_by_row_id RENAME TO checkpoints;
