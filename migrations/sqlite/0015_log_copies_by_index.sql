-- The audit compares the copies of logged documents with the log page by page:
-- it finds them by the log index they claim.
CREATE INDEX versions_log_index ON versions (log_index);
CREATE INDEX deliveries_log_index ON deliveries (log_index);
