-- A session's receipt is found by (session, order, file) rather than (order,
-- file, session): the names the node gives sessions are UUIDv7s, which sort
-- in the order they are given, so a new session's index entry goes at the
-- end of the index, where the batch before left off, instead of on a random
-- page of it (one page written per receipt). Lookups name all three columns,
-- so either order finds a session with one seek.
DROP INDEX deliveries_one_receipt_per_session;
CREATE UNIQUE INDEX deliveries_one_receipt_per_session
    ON deliveries (session, order_id, file_name)
    WHERE receipt IS NOT NULL;
