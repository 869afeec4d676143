-- The Data Package resource name the publisher gave a file, when it gave one
-- (NULL for files published before, and for copies the node derived).
ALTER TABLE version_files ADD COLUMN resource TEXT;
