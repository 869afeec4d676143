-- Witnessing (C2SP tlog-witness). As a log: which peers are asked to cosign this
-- node's checkpoints, and the cosignature lines they returned, per tree size. As a
-- witness of its peers' logs: the latest checkpoint verified of each log (one row per
-- origin, advanced only from the size last recorded), and the evidence of any log that
-- showed two trees: both signed checkpoints (at most 100 kept per log).
ALTER TABLE peers ADD COLUMN witnesses_us BIGINT NOT NULL DEFAULT 0;

CREATE TABLE cosignatures (
    size BIGINT NOT NULL,
    witness TEXT NOT NULL,
    line TEXT NOT NULL,
    cosigned_at TEXT NOT NULL,
    PRIMARY KEY (size, witness)
);
CREATE INDEX cosignatures_by_witness ON cosignatures (witness, size);

CREATE TABLE witnessed_logs (
    origin TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    root TEXT NOT NULL,
    note TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE witness_conflicts (
    origin TEXT NOT NULL,
    conflicting TEXT NOT NULL,
    size BIGINT NOT NULL,
    accepted TEXT NOT NULL,
    reason TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (origin, conflicting)
);
CREATE INDEX witness_conflicts_newest ON witness_conflicts (recorded_at);
