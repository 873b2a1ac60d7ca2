-- Which issuer DIDs a root authority accredited for which credential types, and when.
CREATE TABLE accreditations (
	issuer        TEXT NOT NULL,
	type          TEXT NOT NULL,
	accredited_by TEXT NOT NULL,
	valid_from    INTEGER NOT NULL,
	valid_until   INTEGER NOT NULL,
	PRIMARY KEY (issuer, type, valid_from)
) STRICT;

CREATE TABLE counters (
	id       TEXT PRIMARY KEY,
	name     TEXT NOT NULL UNIQUE,
	type     TEXT NOT NULL,
	disclose TEXT NOT NULL -- JSON array of claim names
) STRICT;
