-- The demand board: demands (and the operator's challenges), providers' answers, and
-- the order an accepted answer becomes. Each row's signed document is also in the log.
CREATE TABLE demands (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    poster TEXT NOT NULL,
    nonce TEXT NOT NULL,
    document TEXT NOT NULL,
    state TEXT NOT NULL,
    budget_fen BIGINT NOT NULL,
    deadline TEXT NOT NULL,
    accepted_answer TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (poster, nonce)
);
-- The board lists newest first, a page at a time (keyset on this index).
CREATE INDEX demands_newest ON demands (created_at, id);
CREATE TABLE demand_answers (
    id TEXT PRIMARY KEY,
    demand_id TEXT NOT NULL REFERENCES demands (id),
    provider TEXT NOT NULL,
    nonce TEXT NOT NULL,
    publisher_id TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    price_fen BIGINT NOT NULL,
    document TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (provider, nonce),
    FOREIGN KEY (dataset_id, version) REFERENCES versions (dataset_id, version)
);
CREATE INDEX demand_answers_by_demand ON demand_answers (demand_id, created_at);
ALTER TABLE orders ADD COLUMN demand_id TEXT REFERENCES demands (id);
