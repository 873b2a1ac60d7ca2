-- Holder keys held on the citizen's phone (issue #5, "Holder keys and storage"). The wallet
-- keeps only the public key: a credential whose cnf.jwk is one of these is shown by asking the
-- phone to sign its key-binding JWT (and received by asking it to sign the OpenID4VCI proof).
CREATE TABLE device_holder_keys (
	id         TEXT PRIMARY KEY,
	citizen_id TEXT NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
	device_id  TEXT REFERENCES devices(id) ON DELETE SET NULL, -- the device that registered it
	jkt        TEXT NOT NULL UNIQUE, -- RFC 7638 SHA-256 thumbprint, base64url
	jwk        TEXT NOT NULL,        -- the public key, JSON; never a private key
	alg        TEXT NOT NULL,
	did        TEXT NOT NULL,        -- its did:jwk
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX device_holder_keys_citizen ON device_holder_keys(citizen_id, created_at);

-- Signatures the wallet waits for from a phone: a KB-JWT (kind 'presentation') or an
-- OpenID4VCI proof (kind 'receipt'). Single use (used_at), short-lived (expires_at), bound to
-- the citizen and to the device that asked. What to sign and what to finish with (the SD-JWT
-- with its disclosures, or the issuer's access token) is sealed with the citizen's data key.
CREATE TABLE device_signings (
	id            TEXT PRIMARY KEY,
	citizen_id    TEXT NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
	device_id     TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
	holder_key_id TEXT NOT NULL REFERENCES device_holder_keys(id) ON DELETE CASCADE,
	kind          TEXT NOT NULL CHECK (kind IN ('presentation', 'receipt')),
	credential_id TEXT NOT NULL, -- the credential shown; '' for a receipt
	sealed        BLOB NOT NULL,
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	used_at       INTEGER
) STRICT;
CREATE INDEX device_signings_expiry ON device_signings(expires_at);

-- Erasure deletes these with the citizen even on a connection without the foreign_keys
-- pragma (EraseCitizen deletes the citizen row last).
CREATE TRIGGER device_keys_erase BEFORE DELETE ON citizens BEGIN
	DELETE FROM device_signings WHERE citizen_id = OLD.id;
	DELETE FROM device_holder_keys WHERE citizen_id = OLD.id;
END;
