-- An answer may promise a delivery (a version still to be published) instead of naming
-- a published one: its version is then empty until the poster orders what was delivered.
-- SQLite cannot drop a NOT NULL constraint, so the table is rebuilt with its rows.
CREATE TABLE demand_answers_rebuilt (
    id TEXT PRIMARY KEY,
    demand_id TEXT NOT NULL REFERENCES demands (id),
    provider TEXT NOT NULL,
    nonce TEXT NOT NULL,
    publisher_id TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    version BIGINT,
    price_fen BIGINT NOT NULL,
    document TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (provider, nonce),
    FOREIGN KEY (dataset_id, version) REFERENCES versions (dataset_id, version)
);
INSERT INTO demand_answers_rebuilt
    SELECT id, demand_id, provider, nonce, publisher_id, dataset_id, version, price_fen, document, created_at
    FROM demand_answers;
DROP TABLE demand_answers;
ALTER TABLE demand_answers_rebuilt RENAME TO demand_answers;
CREATE INDEX demand_answers_by_demand ON demand_answers (demand_id, created_at);
