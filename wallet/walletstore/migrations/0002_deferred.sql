-- OpenID4VCI deferred issuances the wallet waits for. The access token, transaction id and
-- endpoints are sealed together (bound to citizen and id); only what the app lists is clear.
CREATE TABLE pending_issuances (
	id          TEXT PRIMARY KEY,
	citizen_id  TEXT NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
	issuer      TEXT NOT NULL,
	type        TEXT NOT NULL,
	interval_s  INTEGER NOT NULL,
	sealed      BLOB NOT NULL,
	created_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX pending_issuances_citizen ON pending_issuances(citizen_id, created_at);
