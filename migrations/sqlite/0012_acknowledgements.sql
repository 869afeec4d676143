-- A buyer acknowledges each receipt once. The logged acknowledgement is kept
-- here by the receipt it acknowledges, so a repeat is answered with the
-- first one instead of growing the permanent log. (Acknowledgements logged
-- before this migration stay in the log only.)
CREATE TABLE acknowledgements (
    order_id TEXT NOT NULL REFERENCES orders (id),
    receipt_sha256 TEXT NOT NULL,
    log_index BIGINT NOT NULL,
    acknowledged_at TEXT NOT NULL,
    PRIMARY KEY (order_id, receipt_sha256)
);
