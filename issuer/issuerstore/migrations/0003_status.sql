-- Token Status Lists (draft-ietf-oauth-status-list): one open list per agency at a time, each
-- credential holding one entry chosen at random in its issuance transaction. The statuses
-- themselves live in credential_status (the source of truth); the signed token is a cache of
-- the newest publication, whose digest the ledger holds under the list's URI.
CREATE TABLE status_lists (
	id            TEXT PRIMARY KEY,
	agency_id     TEXT NOT NULL REFERENCES agencies(id),
	size          INTEGER NOT NULL,           -- entries
	bits          INTEGER NOT NULL,           -- bits per entry
	used          INTEGER NOT NULL DEFAULT 0, -- entries handed out (never given back)
	seq           INTEGER NOT NULL DEFAULT 0, -- seq of the newest status operation anchored
	token         TEXT,                       -- the statuslist+jwt served; NULL until published
	token_uri     TEXT,                       -- the URI (sub) token was signed for
	token_expires INTEGER,
	created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX status_lists_open ON status_lists(agency_id, created_at);

CREATE TABLE credential_status (
	credential_id TEXT PRIMARY KEY REFERENCES credentials(id),
	list_id       TEXT NOT NULL REFERENCES status_lists(id),
	idx           INTEGER NOT NULL,
	status        INTEGER NOT NULL DEFAULT 0, -- 0 valid, 1 invalid (revoked), 2 suspended
	changed_at    INTEGER,
	UNIQUE (list_id, idx)
) STRICT;
CREATE INDEX credential_status_set ON credential_status(list_id, status);

-- Audit trail of status changes: who (the agency), what, when and why. No personal data: the
-- note is an operator's free text, limited in length, and documented as not for personal data.
CREATE TABLE status_events (
	id            INTEGER PRIMARY KEY,
	agency_id     TEXT NOT NULL REFERENCES agencies(id),
	credential_id TEXT NOT NULL REFERENCES credentials(id),
	list_id       TEXT NOT NULL REFERENCES status_lists(id),
	idx           INTEGER NOT NULL,
	action        TEXT NOT NULL,
	from_status   INTEGER NOT NULL,
	to_status     INTEGER NOT NULL,
	reason        TEXT NOT NULL,
	note          TEXT NOT NULL,
	seq           INTEGER NOT NULL, -- the status operation that published the change
	at            INTEGER NOT NULL
) STRICT;
CREATE INDEX status_events_credential ON status_events(credential_id);
