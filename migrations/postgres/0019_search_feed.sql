-- Search moved into an engine each replica embeds (src/search/index.rs). The
-- database keeps what every index is built from: each dataset's search
-- document (its texts by field and its facet values, as JSON; '' for datasets
-- published before this, until the node computes it), and a feed of changes
-- every replica applies in order.
DROP TABLE search_terms;
DROP TABLE dataset_facets;
DROP TABLE search_state;
ALTER TABLE datasets DROP COLUMN indexed_with;
ALTER TABLE datasets ADD COLUMN search_document TEXT NOT NULL DEFAULT '';

-- One row per change of a dataset as search sees it: a version published,
-- downloads counted. Sequences are handed out by search_feed's one row, which
-- the writing transaction holds until it commits, so changes commit in
-- sequence order and a replica that has read one has read every earlier one.
CREATE TABLE search_changes (
    sequence BIGINT PRIMARY KEY,
    dataset_id TEXT NOT NULL
);
CREATE TABLE search_feed (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    head BIGINT NOT NULL
);
INSERT INTO search_feed (id, head) VALUES (1, 0);
