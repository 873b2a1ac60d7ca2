-- OpenID4VCI deferred issuance (credential types that need an officer's approval). One
-- transaction per offer, identified by the SHA-256 hash of its transaction id; one holder per
-- proof the wallet made, with the credential issued to it once approved.
CREATE TABLE deferred_issuances (
	tx_hash    BLOB PRIMARY KEY,
	offer_id   TEXT NOT NULL UNIQUE REFERENCES offers(id),
	state      TEXT NOT NULL,             -- pending, approved, rejected, collected
	reason     TEXT NOT NULL DEFAULT '',  -- the officer's reason for a rejection
	interval_s INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	decided_at INTEGER,
	expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX deferred_issuances_state ON deferred_issuances(state, created_at);

CREATE TABLE deferred_holders (
	tx_hash       BLOB NOT NULL REFERENCES deferred_issuances(tx_hash),
	idx           INTEGER NOT NULL,
	holder_did    TEXT NOT NULL,
	thumbprint    TEXT NOT NULL,
	credential_id TEXT,                   -- NULL until approved
	PRIMARY KEY (tx_hash, idx)
) STRICT;
