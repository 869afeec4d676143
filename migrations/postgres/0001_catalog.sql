-- Portable encodings, chosen once for both backends (the SQLite file mirrors this one):
--   ordering   keys compared as bytes (COLLATE "C"), as SQLite does, so both list in one order
--   times      TEXT, RFC 3339 UTC with microseconds and 'Z' (fixed width, so text order is time order)
--   digests    TEXT, 64 lowercase hex digits
--   documents  TEXT holding the exact JSON bytes that were signed (never re-encoded)
--   sizes      BIGINT, bytes
CREATE TABLE publishers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE publisher_tokens (
    id TEXT PRIMARY KEY,
    publisher_id TEXT NOT NULL REFERENCES publishers (id),
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size_bytes BIGINT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE datasets (
    id TEXT COLLATE "C" PRIMARY KEY,
    publisher_id TEXT NOT NULL REFERENCES publishers (id),
    access TEXT NOT NULL,
    latest_version BIGINT NOT NULL,
    metadata TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX datasets_publisher ON datasets (publisher_id, id);

CREATE TABLE dataset_keywords (
    dataset_id TEXT NOT NULL REFERENCES datasets (id),
    keyword TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (dataset_id, keyword)
);
CREATE INDEX dataset_keywords_keyword ON dataset_keywords (keyword, dataset_id);

CREATE TABLE versions (
    dataset_id TEXT NOT NULL REFERENCES datasets (id),
    version BIGINT NOT NULL,
    access TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    manifest TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    published_at TEXT NOT NULL,
    PRIMARY KEY (dataset_id, version)
);

CREATE TABLE version_files (
    dataset_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    media_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    PRIMARY KEY (dataset_id, version, name),
    FOREIGN KEY (dataset_id, version) REFERENCES versions (dataset_id, version)
);
CREATE INDEX version_files_sha256 ON version_files (sha256);
