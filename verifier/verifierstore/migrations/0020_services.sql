-- Online services (relying parties) that create OpenID4VP requests, and their API tokens
-- (issue #6). A token is kept only as the SHA-256 of its secret.
CREATE TABLE verifier_services (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE, -- shown to citizens as the requester
	created_at INTEGER NOT NULL      -- unix seconds
) STRICT;

CREATE TABLE verifier_service_tokens (
	id         TEXT PRIMARY KEY,
	service    TEXT NOT NULL REFERENCES verifier_services(id),
	token_hash BLOB NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER               -- NULL while live
) STRICT;
CREATE INDEX verifier_service_tokens_service ON verifier_service_tokens(service, created_at);

-- Each session belongs to the service that created it ('' for sessions made before services
-- existed: nobody can read those).
ALTER TABLE vp_sessions ADD COLUMN service TEXT NOT NULL DEFAULT '';

-- The service whose OpenID4VP session a verification was part of ('' otherwise).
ALTER TABLE verification_records ADD COLUMN service TEXT NOT NULL DEFAULT '';
CREATE INDEX verification_records_service ON verification_records(service, verified_at DESC, id DESC);
