-- Deliveries of licensed files under an order. Range requests add to the
-- open delivery (receipt IS NULL) of a file; when the ranges cover the whole
-- file the delivery completes: the node signs a receipt, logs it, and the
-- next download of that file starts delivery sequence + 1.
CREATE TABLE deliveries (
    order_id TEXT NOT NULL REFERENCES orders (id),
    file_name TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    delivered_ranges TEXT NOT NULL,
    receipt TEXT,
    log_index BIGINT,
    started_at TEXT NOT NULL,
    completed_at TEXT,
    PRIMARY KEY (order_id, file_name, sequence)
);

-- Downloads the node refused under an existing order (expired, revoked, over the limit).
CREATE TABLE access_refusals (
    order_id TEXT NOT NULL REFERENCES orders (id),
    file_name TEXT NOT NULL,
    reason TEXT NOT NULL,
    refused_at TEXT NOT NULL
);
CREATE INDEX access_refusals_order ON access_refusals (order_id);
