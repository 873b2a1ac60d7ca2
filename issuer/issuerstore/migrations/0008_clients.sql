-- OAuth 2.0 clients of agencies (client credentials grant) and the access tokens they got.
CREATE TABLE oauth_clients (
	id          TEXT PRIMARY KEY,
	agency_id   TEXT NOT NULL REFERENCES agencies(id),
	secret_hash BLOB NOT NULL, -- SHA-256 of the client secret
	created_at  INTEGER NOT NULL,
	revoked_at  INTEGER        -- NULL while the client is live; kept for the audit trail
) STRICT;

CREATE INDEX oauth_clients_agency ON oauth_clients(agency_id);

CREATE TABLE oauth_tokens (
	token_hash BLOB PRIMARY KEY, -- SHA-256 of the access token
	client_id  TEXT NOT NULL REFERENCES oauth_clients(id),
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX oauth_tokens_client ON oauth_tokens(client_id);
