CREATE TABLE agencies (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	did        TEXT NOT NULL UNIQUE,
	kid        TEXT NOT NULL,
	types      TEXT NOT NULL, -- JSON array of credential type names
	sealed_key BLOB NOT NULL, -- PKCS #8, AES-GCM sealed, bound to id
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE agency_tokens (
	token_hash BLOB PRIMARY KEY, -- SHA-256 of the bearer token
	agency_id  TEXT NOT NULL REFERENCES agencies(id),
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE credentials (
	id              TEXT PRIMARY KEY,
	agency_id       TEXT NOT NULL REFERENCES agencies(id),
	type            TEXT NOT NULL,
	format          TEXT NOT NULL,
	holder          TEXT NOT NULL,
	sealed_raw      BLOB NOT NULL, -- the issued credential, AES-GCM sealed, bound to id
	digest          TEXT NOT NULL,
	idempotency_key TEXT,          -- NULL when the client sent none
	request_hash    BLOB NOT NULL,
	issued_at       INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL,
	UNIQUE (agency_id, idempotency_key)
) STRICT;
