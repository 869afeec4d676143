-- An answer may promise a delivery (a version still to be published) instead of naming
-- a published one: its version is then empty until the poster orders what was delivered.
ALTER TABLE demand_answers ALTER COLUMN version DROP NOT NULL;
