-- The ledger's state. Everything here is derived from the blocks (blocks + ops) by replaying
-- them through the state machine, except meta and checkpoints; see docs/design/0002-ledger.md.
-- Times are Unix milliseconds (block time) or Unix seconds (accreditation periods).

CREATE TABLE meta (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) STRICT;

CREATE TABLE blocks (
	height       INTEGER PRIMARY KEY,
	time         INTEGER NOT NULL, -- Unix milliseconds
	prev         BLOB NOT NULL,
	ops_hash     BLOB NOT NULL,
	log_size     INTEGER NOT NULL,
	log_root     BLOB NOT NULL,
	results_hash BLOB NOT NULL,
	state_root   BLOB NOT NULL,
	hash         BLOB NOT NULL
) STRICT;

-- Every operation of every block, accepted or not; accepted ones have their log leaf index.
CREATE TABLE ops (
	id         INTEGER PRIMARY KEY,
	height     INTEGER NOT NULL REFERENCES blocks(height),
	pos        INTEGER NOT NULL,
	jws        TEXT NOT NULL,
	code       TEXT NOT NULL,
	reason     TEXT NOT NULL,
	leaf_index INTEGER UNIQUE, -- NULL when rejected
	UNIQUE (height, pos)
) STRICT;

-- Complete nodes of the Merkle log, by (level, index); level 0 holds the leaf hashes.
CREATE TABLE nodes (
	level INTEGER NOT NULL,
	idx   INTEGER NOT NULL,
	hash  BLOB NOT NULL,
	PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;

-- The signed checkpoint after each block, verbatim.
CREATE TABLE checkpoints (
	height INTEGER PRIMARY KEY REFERENCES blocks(height),
	note   BLOB NOT NULL
) STRICT;

-- Current state of each DID.
CREATE TABLE dids (
	did                 TEXT PRIMARY KEY,
	seq                 INTEGER NOT NULL, -- number of accepted operations on it
	version_id          TEXT NOT NULL,
	update_key          BLOB NOT NULL,    -- canonical public JWK; empty once deactivated
	recovery_commitment TEXT NOT NULL,    -- empty once deactivated
	created             INTEGER NOT NULL,
	updated             INTEGER NOT NULL,
	deactivated         INTEGER NOT NULL,
	doc                 BLOB NOT NULL     -- canonical document, relative ids
) STRICT;

-- Every version of every DID, for versionId and versionTime resolution.
CREATE TABLE did_versions (
	did         TEXT NOT NULL,
	seq         INTEGER NOT NULL, -- 1 for the create
	version_id  TEXT NOT NULL,
	time        INTEGER NOT NULL,
	height      INTEGER NOT NULL,
	leaf_index  INTEGER NOT NULL,
	deactivated INTEGER NOT NULL,
	doc         BLOB NOT NULL,
	PRIMARY KEY (did, seq)
) STRICT;
CREATE INDEX did_versions_version_id ON did_versions(version_id);
CREATE INDEX did_versions_time ON did_versions(did, time);

CREATE TABLE anchors (
	issuer     TEXT NOT NULL,
	batch      TEXT NOT NULL,
	root       BLOB NOT NULL,
	count      INTEGER NOT NULL,
	leaf_index INTEGER NOT NULL,
	height     INTEGER NOT NULL,
	PRIMARY KEY (issuer, batch)
) STRICT;

CREATE TABLE statuses (
	list       TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	issuer     TEXT NOT NULL,
	digest     BLOB NOT NULL,
	leaf_index INTEGER NOT NULL,
	height     INTEGER NOT NULL,
	PRIMARY KEY (list, seq)
) STRICT;

-- Accreditations and withdrawals by the root authority, in log order.
CREATE TABLE trust (
	leaf_index INTEGER PRIMARY KEY,
	kind       TEXT NOT NULL, -- 'accredit' or 'withdraw'
	authority  TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	issuer     TEXT NOT NULL,
	types      TEXT NOT NULL, -- JSON array of credential types (vct)
	valid_from INTEGER NOT NULL, -- Unix seconds; accredit only
	until      INTEGER NOT NULL, -- Unix seconds; accredit only
	at         INTEGER NOT NULL, -- Unix seconds; withdraw only
	height     INTEGER NOT NULL,
	UNIQUE (authority, seq)
) STRICT;
CREATE INDEX trust_issuer ON trust(issuer, leaf_index);
