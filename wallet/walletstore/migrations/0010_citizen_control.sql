-- The citizen stays in control (issue #5): presentation history, the notification event log
-- and what the background status check last saw of each held credential.

-- Every presentation the wallet made for a citizen. Who saw which claims, when and why is
-- personal data: the record is sealed with the citizen's data key (bound to citizen and id);
-- only the order and time are clear, to page through the history.
CREATE TABLE presentations (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT NOT NULL UNIQUE,
	citizen_id TEXT NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
	at         INTEGER NOT NULL,
	sealed     BLOB NOT NULL
) STRICT;
CREATE INDEX presentations_citizen ON presentations(citizen_id, seq);

-- Notifications for the app (server-sent events), a bounded log per citizen so that a
-- reconnecting app resumes after its Last-Event-ID. The event's content is sealed like the
-- history; seq is the event id.
CREATE TABLE wallet_events (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	citizen_id TEXT NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
	type       TEXT NOT NULL,
	at         INTEGER NOT NULL,
	sealed     BLOB NOT NULL
) STRICT;
CREATE INDEX wallet_events_citizen ON wallet_events(citizen_id, seq);

-- The last status the background check saw for a held credential ('valid', 'revoked',
-- 'suspended', 'unknown') and whether the citizen was told it expires soon.
CREATE TABLE credential_watch (
	credential_id TEXT PRIMARY KEY REFERENCES credentials(id) ON DELETE CASCADE,
	citizen_id    TEXT NOT NULL REFERENCES citizens(id) ON DELETE CASCADE,
	status        TEXT NOT NULL,
	expiry_warned INTEGER NOT NULL DEFAULT 0,
	checked_at    INTEGER NOT NULL
) STRICT;

-- Erasure deletes these with the citizen even on a connection without the foreign_keys
-- pragma (EraseCitizen deletes the citizen row last).
CREATE TRIGGER citizen_control_erase BEFORE DELETE ON citizens BEGIN
	DELETE FROM presentations WHERE citizen_id = OLD.id;
	DELETE FROM wallet_events WHERE citizen_id = OLD.id;
	DELETE FROM credential_watch WHERE citizen_id = OLD.id;
END;
