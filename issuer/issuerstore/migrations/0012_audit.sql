-- The agencies' audit log: administrative and status actions, who (token or OAuth client)
-- did them, when and why. Append-only: the store never updates or deletes a row, and the
-- triggers refuse it. It replaces status_events (status changes are one kind of entry now);
-- the old rows move over with their facts in detail.
CREATE TABLE audit_log (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT, -- only grows: pages continue after a seq
	agency_id TEXT NOT NULL REFERENCES agencies(id),
	at        INTEGER NOT NULL,
	actor     TEXT NOT NULL,             -- token:<hash prefix>, client:<id> or system
	action    TEXT NOT NULL,             -- agency.add, type.add, credential.revoke, ...
	target    TEXT NOT NULL,             -- agency, client or credential id, type name
	reason    TEXT NOT NULL DEFAULT '',
	detail    TEXT NOT NULL DEFAULT '{}' -- JSON object of strings; no personal data
) STRICT;
CREATE INDEX audit_log_agency ON audit_log(agency_id, seq);
CREATE INDEX audit_log_target ON audit_log(target);

INSERT INTO audit_log(agency_id, at, actor, action, target, reason, detail)
	SELECT agency_id, at, 'system', 'credential.' || action, credential_id, reason,
		json_object('list', list_id, 'idx', CAST(idx AS TEXT), 'from', CAST(from_status AS TEXT),
			'to', CAST(to_status AS TEXT), 'seq', CAST(seq AS TEXT), 'note', note)
	FROM status_events ORDER BY id;
DROP TABLE status_events;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
