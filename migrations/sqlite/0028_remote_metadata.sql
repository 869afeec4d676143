-- The peers' datasets in this node's DCAT catalog: each harvested version keeps its
-- verified manifest's metadata (canonical JSON), so it is described as its origin
-- describes it.
ALTER TABLE remote_versions ADD COLUMN metadata TEXT NOT NULL DEFAULT '';
