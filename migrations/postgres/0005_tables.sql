-- A Parquet copy the node derives from a CSV file names its source.
ALTER TABLE version_files ADD COLUMN derived_from TEXT;

-- What inspecting a blob as a table found: the profile (JSON) or why it could
-- not be read. Keyed by content, so the same bytes are inspected once.
CREATE TABLE table_profiles (
    sha256 TEXT COLLATE "C" NOT NULL,
    format TEXT COLLATE "C" NOT NULL,
    profile TEXT,
    problem TEXT,
    inspected_at TEXT NOT NULL,
    PRIMARY KEY (sha256, format)
);
