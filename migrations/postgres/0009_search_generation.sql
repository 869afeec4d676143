-- A counter every write of the search index advances, in the same
-- transaction: a node replica may reuse facet counts it computed earlier for
-- as long as the generation it read then is still the current one.
CREATE TABLE search_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO search_state (id, generation) VALUES (1, 0);

-- Term lookups read the weight from the index itself (an index-only scan),
-- not from the heap page of every matching row. (SQLite's WITHOUT ROWID
-- table already keeps the weight beside its key.)
ALTER TABLE search_terms DROP CONSTRAINT search_terms_pkey,
    ADD PRIMARY KEY (term, dataset_id) INCLUDE (weight);
