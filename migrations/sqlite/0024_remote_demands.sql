-- Demand federation: the demands (and challenges) each peer's board lists, kept once
-- the poster's signature verifies and the demand names that peer, with the state the
-- peer last showed. Listed newest first across peers.
CREATE TABLE remote_demands (
    peer_url TEXT NOT NULL REFERENCES peers (url),
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    document TEXT NOT NULL,
    created_at TEXT NOT NULL,
    harvested_at TEXT NOT NULL,
    PRIMARY KEY (peer_url, id)
);
CREATE INDEX remote_demands_newest ON remote_demands (created_at, peer_url, id);
