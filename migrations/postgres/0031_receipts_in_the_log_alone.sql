-- A delivery's receipt is kept in the log alone: the row names it by its log
-- index (every receipted delivery has one, and only receipted ones do). The
-- copy each row held doubled what every delivery wrote and stored; `shulian
-- audit` now checks each receipted row against the receipt at its index
-- (order, file, download, session) instead of comparing two texts.
UPDATE deliveries SET log_index = NULL WHERE receipt IS NULL;
DROP INDEX deliveries_one_receipt_per_session;
ALTER TABLE deliveries DROP COLUMN receipt;
CREATE UNIQUE INDEX deliveries_one_receipt_per_session
    ON deliveries (session, order_id, file_name)
    WHERE log_index IS NOT NULL;
