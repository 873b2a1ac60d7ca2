-- A consent to share online (OpenID4VP) that presents a credential bound to a holder key on
-- the phone waits for the phone's KB-JWT signatures like a counter presentation does: a third
-- kind of device signing request, 'share' (wallet/devicekeys.go, "Share online"). SQLite
-- cannot widen a CHECK constraint, so the table is rebuilt with the same columns and rows;
-- the erasure trigger names it, so it is dropped first and made again.
DROP TRIGGER device_keys_erase;

CREATE TABLE device_signings_new (
	id            TEXT PRIMARY KEY,
	citizen_id    TEXT NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
	device_id     TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
	holder_key_id TEXT NOT NULL REFERENCES device_holder_keys(id) ON DELETE CASCADE, -- for a share: the first key to sign with
	kind          TEXT NOT NULL CHECK (kind IN ('presentation', 'receipt', 'share')),
	credential_id TEXT NOT NULL, -- the credential shown; '' for a receipt or a share
	sealed        BLOB NOT NULL,
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	used_at       INTEGER
) STRICT;
INSERT INTO device_signings_new(id, citizen_id, device_id, holder_key_id, kind, credential_id, sealed, created_at, expires_at, used_at)
	SELECT id, citizen_id, device_id, holder_key_id, kind, credential_id, sealed, created_at, expires_at, used_at FROM device_signings;
DROP TABLE device_signings;
ALTER TABLE device_signings_new RENAME TO device_signings;
CREATE INDEX device_signings_expiry ON device_signings(expires_at);

CREATE TRIGGER device_keys_erase BEFORE DELETE ON citizens BEGIN
	DELETE FROM device_signings WHERE citizen_id = OLD.id;
	DELETE FROM device_holder_keys WHERE citizen_id = OLD.id;
END;
