-- Agency key rotation. A rotation's new keys are kept as pending (sealed) before the ledger
-- update is submitted and promoted to the agencies row only once the ledger has the new key, so
-- a crash between the two never loses a key the DID document names. Replaced signing keys move
-- to agency_key_history, for the record: they are never used to sign again.
CREATE TABLE agency_pending_keys (
	agency_id         TEXT PRIMARY KEY REFERENCES agencies(id),
	kid               TEXT NOT NULL, -- the new signing key's DID URL (did#key-N)
	sealed_key        BLOB NOT NULL, -- new signing key, sealed like agencies.sealed_key
	sealed_update_key BLOB NOT NULL, -- new update key, sealed like agencies.sealed_update_key
	created_at        INTEGER NOT NULL
) STRICT;

CREATE TABLE agency_key_history (
	agency_id  TEXT NOT NULL REFERENCES agencies(id),
	kid        TEXT NOT NULL,
	sealed_key BLOB NOT NULL,
	retired_at INTEGER NOT NULL,
	PRIMARY KEY (agency_id, kid)
) STRICT;
