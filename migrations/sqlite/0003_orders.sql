-- Orders of licensed data. order_doc and agreement hold the exact canonical
-- JSON that was signed (and logged). A buyer's nonce is usable once.
CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    buyer TEXT NOT NULL,
    nonce TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    order_doc TEXT NOT NULL,
    order_sha256 TEXT NOT NULL,
    state TEXT NOT NULL,
    agreement TEXT,
    valid_until TEXT,
    max_downloads BIGINT NOT NULL,
    token_id TEXT NOT NULL UNIQUE,
    token_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (buyer, nonce),
    FOREIGN KEY (dataset_id, version) REFERENCES versions (dataset_id, version)
);
CREATE INDEX orders_dataset ON orders (dataset_id, version);
