-- The anchor receipt of each held credential, fetched after it was received (wallet/anchor.go).
-- A credential without a row has not been asked for yet. The receipt is sealed with the
-- citizen's data key; erasing the citizen erases their rows.
CREATE TABLE credential_anchors (
	credential_id  TEXT PRIMARY KEY REFERENCES credentials(id) ON DELETE CASCADE,
	citizen_id     TEXT NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
	state          TEXT NOT NULL,    -- 'pending', 'anchored' or 'not_anchored'
	attempts       INTEGER NOT NULL,
	next_at        INTEGER,          -- Unix seconds of the next attempt; pending only
	verified_at    INTEGER,          -- Unix seconds; anchored only
	log_origin     TEXT NOT NULL DEFAULT '',
	leaf_index     INTEGER NOT NULL DEFAULT 0,
	tree_size      INTEGER NOT NULL DEFAULT 0,
	reason         TEXT NOT NULL DEFAULT '',
	sealed_receipt BLOB
) STRICT;
CREATE INDEX credential_anchors_due ON credential_anchors(state, next_at);
CREATE INDEX credential_anchors_citizen ON credential_anchors(citizen_id);
