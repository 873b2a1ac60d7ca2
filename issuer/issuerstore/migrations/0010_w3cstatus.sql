-- W3C Bitstring Status Lists mirroring each Token Status List: one revocation and one
-- suspension list, at the same indexes. Each is served as a signed vc+jwt and anchored on the
-- ledger under its own URL, so it has its own seq.
ALTER TABLE status_lists ADD COLUMN revocation_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE status_lists ADD COLUMN revocation_credential TEXT; -- NULL until first published
ALTER TABLE status_lists ADD COLUMN suspension_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE status_lists ADD COLUMN suspension_credential TEXT; -- NULL until first published
