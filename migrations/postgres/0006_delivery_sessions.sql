-- Reads of a licensed file through one Delta Sharing query (one signed file
-- URL) form one session: re-reading bytes a session already delivered does
-- not start another delivery, so a range-reading client (pyarrow reads a
-- footer twice) uses one download of the order, not several.
ALTER TABLE deliveries ADD COLUMN session TEXT;
