-- Citizen accounts (issue #5): enrolment by phone and one-time code, device keys with
-- DPoP-bound tokens, erasure with an audit trail, and per-citizen envelope encryption.

-- phone_hash: HMAC-SHA256 of the phone number under a wallet key (no phone number in clear).
-- sealed_data_key: the citizen's data key, sealed by the wallet's master-derived key and bound
-- to the citizen id; credentials and the profile are sealed with it, so erasing it shreds them.
-- sealed_profile: what identity proofing returned (name), sealed with the data key.
ALTER TABLE citizens ADD COLUMN phone_hash BLOB;
ALTER TABLE citizens ADD COLUMN sealed_data_key BLOB;
ALTER TABLE citizens ADD COLUMN sealed_profile BLOB;
CREATE UNIQUE INDEX citizens_phone ON citizens(phone_hash);
-- 0: sealed_key is sealed with the wallet key (before envelope encryption); 1: with the data key.
ALTER TABLE citizens ADD COLUMN holder_key_version INTEGER NOT NULL DEFAULT 0;

-- A device is a public key the citizen's app holds; tokens are bound to one (DPoP, cnf.jkt).
CREATE TABLE devices (
	id         TEXT PRIMARY KEY,
	citizen_id TEXT NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
	jkt        TEXT NOT NULL UNIQUE, -- RFC 7638 SHA-256 thumbprint, base64url
	jwk        TEXT NOT NULL,        -- the public key, JSON
	alg        TEXT NOT NULL,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX devices_citizen ON devices(citizen_id, created_at);

-- Tokens minted before this migration have no device and are refused by the bridge.
ALTER TABLE citizen_tokens ADD COLUMN device_id TEXT REFERENCES devices(id) ON DELETE CASCADE;
CREATE INDEX citizen_tokens_device ON citizen_tokens(device_id);

-- One pending one-time code per phone: only its HMAC is kept; single use, short-lived,
-- attempt-limited.
CREATE TABLE enrolment_codes (
	phone_hash BLOB PRIMARY KEY,
	code_hash  BLOB NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;

-- DPoP proof ids seen (SHA-256 of jkt and jti), kept until the proof could no longer pass.
CREATE TABLE dpop_jtis (
	key        BLOB PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX dpop_jtis_expiry ON dpop_jtis(expires_at);

-- 0: sealed with the wallet key (before envelope encryption); 1: with the citizen's data key.
ALTER TABLE credentials ADD COLUMN key_version INTEGER NOT NULL DEFAULT 0;

-- Account-level events, without personal data: subject is a pseudonym (HMAC of the citizen
-- id), detail holds counts only.
CREATE TABLE audit (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	at      INTEGER NOT NULL,
	action  TEXT NOT NULL,
	subject TEXT NOT NULL,
	detail  TEXT NOT NULL
) STRICT;
