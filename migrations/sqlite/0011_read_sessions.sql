-- Every delivery is now a read session, receipted (and one download spent)
-- before its first byte leaves; later responses of the session add to its
-- byte count, which is capped. Before this, range responses were tallied
-- into an open delivery and receipted only once they covered the file, so
-- ranges that never did carried licensed bytes with no receipt.
ALTER TABLE deliveries ADD COLUMN bytes_sent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN responses BIGINT NOT NULL DEFAULT 0;

-- Earlier receipted deliveries without a session (token downloads) become
-- sessions of their own, closed: their byte count is set to the cap's
-- largest value, so they can never be continued.
UPDATE deliveries SET session = 'before-sessions-' || CAST(sequence AS TEXT),
    bytes_sent = 9223372036854775807
    WHERE session IS NULL AND receipt IS NOT NULL;

-- Earlier open deliveries were never receipted: they stay on record (which
-- ranges went out is in delivered_ranges), moved to negative sequence
-- numbers so they hold no place among the receipted downloads. From this
-- migration on, delivered_ranges of new rows is '[]': sessions count bytes.
UPDATE deliveries SET sequence = -sequence WHERE receipt IS NULL;
