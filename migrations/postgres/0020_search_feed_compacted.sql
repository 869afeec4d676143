-- The search feed keeps only each dataset's latest change: a change carries the
-- dataset whole, so an earlier one tells a replica nothing the latest does not,
-- and a feed that kept them all would grow with every download counted. A
-- writer deletes a dataset's earlier change in the transaction that appends its
-- new one; the feed then holds at most one row per dataset ever published.
CREATE INDEX search_changes_by_dataset ON search_changes (dataset_id);
DELETE FROM search_changes
WHERE EXISTS (
    SELECT 1 FROM search_changes later
    WHERE later.dataset_id = search_changes.dataset_id AND later.sequence > search_changes.sequence
);
