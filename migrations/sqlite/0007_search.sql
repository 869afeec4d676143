-- The search index, computed in Rust (jieba words, Chinese character pairs,
-- English stems: see src/search.rs) so both backends rank identically.
-- Rewritten with each publication of the dataset, in the same transaction.
-- WITHOUT ROWID: the keys hold every column, so searches never leave the index.
CREATE TABLE search_terms (
    dataset_id TEXT NOT NULL REFERENCES datasets (id),
    term TEXT NOT NULL,
    weight BIGINT NOT NULL,
    PRIMARY KEY (term, dataset_id)
) WITHOUT ROWID;
CREATE INDEX search_terms_dataset ON search_terms (dataset_id);

-- Facet values of a dataset's newest version: access, publisher, license, format, keyword.
CREATE TABLE dataset_facets (
    dataset_id TEXT NOT NULL REFERENCES datasets (id),
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (facet, value, dataset_id)
) WITHOUT ROWID;
CREATE INDEX dataset_facets_dataset ON dataset_facets (dataset_id);

-- Completed open downloads (counted in memory, added in batches) and the
-- analyzer version a dataset was indexed with (0: never; reindexed at start).
ALTER TABLE datasets ADD COLUMN downloads BIGINT NOT NULL DEFAULT 0;
ALTER TABLE datasets ADD COLUMN indexed_with BIGINT NOT NULL DEFAULT 0;
