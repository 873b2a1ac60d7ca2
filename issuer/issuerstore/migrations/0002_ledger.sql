-- Agencies are did:ez DIDs on the ledger: keep the update and recovery keys (sealed) and the
-- sequence number of the authority operations they sign.
ALTER TABLE agencies ADD COLUMN sealed_update_key BLOB;
ALTER TABLE agencies ADD COLUMN sealed_recovery_key BLOB;
ALTER TABLE agencies ADD COLUMN op_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agencies ADD COLUMN root INTEGER NOT NULL DEFAULT 0; -- 1 for the root authority

-- Credential digests waiting to be anchored, durably: written in the issuance transaction.
CREATE TABLE anchor_queue (
	credential_id TEXT PRIMARY KEY REFERENCES credentials(id),
	agency_id     TEXT NOT NULL REFERENCES agencies(id),
	digest        BLOB NOT NULL, -- SHA-256 of the credential as issued
	batch_id      TEXT,          -- set when the digest is put into a batch
	batch_index   INTEGER
) STRICT;
CREATE INDEX anchor_queue_pending ON anchor_queue(agency_id, batch_id);

-- A batch is signed (its anchor operation kept) before it is submitted, so a crash between
-- submitting and storing the receipts resumes the same batch instead of anchoring twice.
CREATE TABLE anchor_batches (
	id         TEXT PRIMARY KEY,
	agency_id  TEXT NOT NULL REFERENCES agencies(id),
	op         TEXT NOT NULL,
	count      INTEGER NOT NULL,
	leaf_index INTEGER,          -- set when anchored
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE receipts (
	credential_id TEXT PRIMARY KEY REFERENCES credentials(id),
	batch_id      TEXT NOT NULL REFERENCES anchor_batches(id),
	receipt       BLOB NOT NULL -- JSON, verified before it was stored
) STRICT;
