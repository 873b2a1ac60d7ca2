-- Credential types agencies add at run time (ezheng issuer type add): the type file as
-- uploaded, parsed again at start-up. Names and vcts are unique across the issuer (the
-- OpenID4VCI metadata lists every agency's types); the service also keeps them clear of the
-- built-in types. The type's name is added to agencies.types in the same transaction.
CREATE TABLE agency_types (
	name       TEXT PRIMARY KEY,
	vct        TEXT NOT NULL UNIQUE,
	agency_id  TEXT NOT NULL REFERENCES agencies(id),
	file_name  TEXT NOT NULL, -- type.json or type.yaml: how file is parsed
	file       BLOB NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX agency_types_agency ON agency_types(agency_id);
