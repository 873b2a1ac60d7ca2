-- The W3C formats of an issued credential (jwt_vc_json, vc+jwt, ldp_vc), made from the same
-- claims as its SD-JWT VC (credentials.sealed_raw) and sealed the same way: AES-GCM, bound to
-- the credential id and the format.
CREATE TABLE credential_formats (
	credential_id TEXT NOT NULL REFERENCES credentials(id),
	format        TEXT NOT NULL,
	sealed        BLOB NOT NULL,
	PRIMARY KEY (credential_id, format)
) STRICT;
