-- OpenID4VCI credential offers (pre-authorized code flow). Codes, tokens and nonces are
-- stored as SHA-256 hashes only; the offered claims are sealed.
CREATE TABLE offers (
	id              TEXT PRIMARY KEY,
	agency_id       TEXT NOT NULL REFERENCES agencies(id),
	type            TEXT NOT NULL,
	sealed_claims   BLOB NOT NULL,
	sealed_code     BLOB NOT NULL,             -- for by-reference offers
	code_hash       BLOB NOT NULL UNIQUE,
	tx_code_hash    BLOB,                      -- NULL when the offer has no tx_code
	failed_attempts INTEGER NOT NULL DEFAULT 0,
	state           TEXT NOT NULL,             -- offered, redeemed, issued, void
	created_at      INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE offer_tokens (
	token_hash BLOB PRIMARY KEY,
	offer_id   TEXT NOT NULL REFERENCES offers(id),
	expires_at INTEGER NOT NULL,
	used       INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE offer_nonces (
	nonce_hash BLOB PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE offer_notifications (
	id       TEXT PRIMARY KEY,
	offer_id TEXT NOT NULL REFERENCES offers(id),
	event    TEXT,
	at       INTEGER
) STRICT;
