-- A counter's default verification policy ('' for the server's default).
ALTER TABLE counters ADD COLUMN policy TEXT NOT NULL DEFAULT '';

-- Verification records for audit. No personal data: the credential is known by its digest,
-- never by its claims, holder key or holder DID.
CREATE TABLE verification_records (
	id          TEXT PRIMARY KEY,
	verified_at INTEGER NOT NULL, -- unix seconds
	digest      TEXT NOT NULL,    -- hex SHA-256 of the issuer-signed credential
	format      TEXT NOT NULL,
	type        TEXT NOT NULL,
	issuer      TEXT NOT NULL,
	valid       INTEGER NOT NULL,
	failed      TEXT NOT NULL,    -- JSON array of check names
	counter     TEXT NOT NULL,
	policy      TEXT NOT NULL,
	source      TEXT NOT NULL
) STRICT;
CREATE INDEX verification_records_time ON verification_records(verified_at DESC, id DESC);
CREATE INDEX verification_records_counter ON verification_records(counter, verified_at DESC, id DESC);
