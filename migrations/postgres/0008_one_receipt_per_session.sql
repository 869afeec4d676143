-- A read session completes a file's delivery at most once. Concurrent
-- requests of one session may each cover the whole file; the database, not
-- the order they commit in, decides that only one of them gets a receipt
-- (the other's insert conflicts and is retried as a repeat).
CREATE UNIQUE INDEX deliveries_one_receipt_per_session
    ON deliveries (order_id, file_name, session)
    WHERE receipt IS NOT NULL;
