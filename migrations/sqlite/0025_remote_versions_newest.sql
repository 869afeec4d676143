-- What the peers published lately, newest first (the catalog's "from peer nodes").
CREATE INDEX remote_versions_newest ON remote_versions (published_at);
