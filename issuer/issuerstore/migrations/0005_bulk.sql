-- Bulk issuance jobs (issue #4): one uploaded file of one credential type, its rows, and what
-- became of each. A file uploaded twice by the same agency is the same job (UNIQUE digest).
-- Row payloads (holder and claims) are sealed and dropped when the job finishes.
CREATE TABLE bulk_jobs (
	id          TEXT PRIMARY KEY,
	agency_id   TEXT NOT NULL REFERENCES agencies(id),
	type        TEXT NOT NULL,
	digest      BLOB NOT NULL,              -- SHA-256 of the type name and the file
	state       TEXT NOT NULL,              -- queued, running, finished
	total       INTEGER NOT NULL,
	done        INTEGER NOT NULL DEFAULT 0, -- rows issued (or found issued by an earlier run)
	failed      INTEGER NOT NULL DEFAULT 0, -- rows rejected
	created_at  INTEGER NOT NULL,
	finished_at INTEGER,
	UNIQUE (agency_id, digest)
) STRICT;
CREATE INDEX bulk_jobs_unfinished ON bulk_jobs(state, created_at);

CREATE TABLE bulk_rows (
	job_id        TEXT NOT NULL REFERENCES bulk_jobs(id),
	row_num       INTEGER NOT NULL,           -- 1-based data row (line for JSONL, record for CSV)
	row_id        TEXT NOT NULL DEFAULT '',   -- the client's optional row id
	state         TEXT NOT NULL,              -- queued, done, failed
	sealed        BLOB,                       -- sealed {holder, claims}; NULL once the job finished
	error         TEXT,                       -- JSON problem detail of a failed row
	credential_id TEXT,
	PRIMARY KEY (job_id, row_num)
) STRICT, WITHOUT ROWID;
CREATE INDEX bulk_rows_state ON bulk_rows(job_id, state, row_num);
