-- Peers' datasets in the search index: each harvested version keeps the search document
-- computed from its verified manifest; the index holds each peer dataset's newest.
ALTER TABLE remote_versions ADD COLUMN search_document TEXT NOT NULL DEFAULT '';
