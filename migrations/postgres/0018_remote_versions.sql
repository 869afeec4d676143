-- Catalog federation: what each peer's change feed said, verified (its manifest
-- signed by the peer's pinned key and included in the peer's log), kept with
-- its provenance. `harvested_through` is the last change sequence read.
ALTER TABLE peers ADD COLUMN identifier_prefix TEXT;
ALTER TABLE peers ADD COLUMN harvested_through BIGINT;
CREATE TABLE remote_versions (
    peer_url TEXT NOT NULL REFERENCES peers (url),
    dataset_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    access TEXT NOT NULL,
    title TEXT NOT NULL,
    manifest_digest TEXT NOT NULL,
    log_index BIGINT NOT NULL,
    published_at TEXT NOT NULL,
    harvested_at TEXT NOT NULL,
    PRIMARY KEY (peer_url, dataset_id, version)
);
CREATE INDEX peers_identifier_prefix ON peers (identifier_prefix);
