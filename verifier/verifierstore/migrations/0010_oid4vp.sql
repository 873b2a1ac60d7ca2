-- OpenID4VP sessions (issue #6). The result holds disclosed claims and is sealed by the
-- verifier service; everything else is protocol state.
CREATE TABLE vp_sessions (
	id           TEXT PRIMARY KEY,        -- the service's secret handle
	request_id   TEXT NOT NULL UNIQUE,    -- public id in the request_uri
	state        TEXT NOT NULL UNIQUE,
	nonce        TEXT NOT NULL,
	client_id    TEXT NOT NULL,
	query        TEXT NOT NULL,           -- DCQL JSON
	policy       TEXT NOT NULL,
	client_name  TEXT NOT NULL,
	purpose      TEXT NOT NULL,
	status       TEXT NOT NULL,           -- created, fetched, verified, rejected, declined
	created_at   INTEGER NOT NULL,        -- unix seconds
	expires_at   INTEGER NOT NULL,
	completed_at INTEGER,
	result       BLOB                     -- sealed JSON
) STRICT;

-- The verifier's own signing keys, sealed with the master key.
CREATE TABLE verifier_keys (
	name   TEXT PRIMARY KEY,
	sealed BLOB NOT NULL
) STRICT;
