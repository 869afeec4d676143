-- Peer nodes: each pinned to the DID that signed its description at first
-- contact (or that the operator gave), with how the last contact went.
CREATE TABLE peers (
    url TEXT PRIMARY KEY,
    did TEXT NOT NULL,
    name TEXT NOT NULL,
    added_at TEXT NOT NULL,
    last_seen_at TEXT,
    last_harvested_at TEXT,
    last_error TEXT,
    last_error_at TEXT
);
