-- Anchor receipts are found by credential digest too (GET /issuer/v1/receipts/{digest}). The
-- digest is kept with the receipt, written when the batch is anchored, off the issuance path:
-- an index on the credentials' digests (random values) would cost every issuance a random
-- B-tree insert. Only credentials waiting in anchor_queue (a short table) have no receipt row.
ALTER TABLE receipts ADD COLUMN digest BLOB;
UPDATE receipts SET digest = (SELECT unhex(c.digest) FROM credentials c WHERE c.id = receipts.credential_id);
CREATE INDEX receipts_digest ON receipts(digest);
