-- The log's tree is written at its right edge only, one batch after another;
-- keyed in the order it is written, a batch dirties the last page or two of
-- its index rather than a page per tree level.
--
-- log_tree's key becomes (last leaf the subtree covers) * 64 + level: every
-- hash a leaf completes carries that leaf, so keys grow as the log does. (The
-- old key, level * 2^48 + index, put each level in a range of its own: a
-- batch wrote into as many index pages as levels it completed.)
CREATE TABLE log_tree_in_append_order (
    node BIGINT PRIMARY KEY,
    hash TEXT NOT NULL
);
INSERT INTO log_tree_in_append_order (node, hash)
    SELECT (((((node & 281474976710655) + 1) << CAST(node >> 48 AS INTEGER)) - 1) << 6) | (node >> 48), hash
    FROM log_tree;
DROP TABLE log_tree;
ALTER TABLE log_tree_in_append_order RENAME TO log_tree;
ALTER INDEX log_tree_in_append_order_pkey RENAME TO log_tree_pkey;
