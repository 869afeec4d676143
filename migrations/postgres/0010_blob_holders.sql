-- Which publisher proved it holds which bytes, by uploading them (the node
-- hashed the whole body itself). A version may list only files its
-- publisher proved: digests and sizes are public, bytes are not, so knowing
-- a digest must never be enough to republish the bytes behind it.
CREATE TABLE blob_holders (
    publisher_id TEXT NOT NULL REFERENCES publishers (id),
    sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    proven_at TEXT NOT NULL,
    PRIMARY KEY (publisher_id, sha256)
);
CREATE INDEX blob_holders_sha256 ON blob_holders (sha256);

-- Publishers already published their files: each holds what its own
-- versions list (node-derived copies included; their sources were its own).
INSERT INTO blob_holders (publisher_id, sha256, proven_at)
SELECT d.publisher_id, f.sha256, MIN(v.published_at)
FROM version_files f
JOIN versions v ON v.dataset_id = f.dataset_id AND v.version = f.version
JOIN datasets d ON d.id = f.dataset_id
GROUP BY d.publisher_id, f.sha256;
