CREATE TABLE citizens (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	holder_did TEXT NOT NULL,
	holder_kid TEXT NOT NULL,
	sealed_key BLOB NOT NULL, -- holder key, PKCS #8, AES-GCM sealed, bound to id
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE citizen_tokens (
	token_hash BLOB PRIMARY KEY,
	citizen_id TEXT NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL
) STRICT;

-- Only what is needed to list and search is in clear; the credential is sealed.
CREATE TABLE credentials (
	id         TEXT PRIMARY KEY,
	citizen_id TEXT NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
	type       TEXT NOT NULL,
	issuer     TEXT NOT NULL,
	format     TEXT NOT NULL,
	digest     TEXT NOT NULL,
	claims     TEXT NOT NULL, -- JSON array of disclosable claim names
	sealed_raw BLOB NOT NULL,
	issued_at  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	stored_at  INTEGER NOT NULL,
	UNIQUE (citizen_id, digest)
) STRICT;
