-- The third W3C Bitstring Status List of each status list: purpose "message", two bits per
-- entry holding the Token Status List value (0 valid, 1 revoked, 2 suspended), which the
-- ldp_vc format's single credentialStatus entry points at. Its own seq, as the other two.
ALTER TABLE status_lists ADD COLUMN message_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE status_lists ADD COLUMN message_credential TEXT; -- NULL until first published
