package compactqr

import "strings"

// dictionary is the preset deflate dictionary of version 1 (RFC 1951 window preloaded, as
// zlib's deflateSetDictionary): the fragments of a record that recur from one ezheng
// presentation to the next. The claim names of the six credential types, their vct values,
// the header and payload skeletons with the escape codes the encoder writes for salts
// (16 raw bytes), digests and keys (32), did:ez suffixes (34) and nonces (12), and for numbers. Deflate finds
// its matches by distance, and near ones cost fewer bits, so the commonest fragments come
// last. It is frozen: a different dictionary is a different version (TestDictionaryFrozen
// pins its SHA-256).
var dictionary = []byte(strings.Join([]string{
	// Claim names of the credential types in issuer/credtype/types, as disclosures spell
	// them: ["<salt>","<name>",<value>].
	`","company_name","unified_social_credit_code","entity_type","legal_representative",` +
		`"registered_capital","established","operating_period_end","business_scope",` +
		`"registration_authority","degree_level","degree_name","discipline","major","institution",` +
		`"certificate_number","student_number","award_date","health_status","id_number_hash",` +
		`"region","region_code","assessed_at","id_number","permit_number","residence_address",` +
		`"household_registration","disease","vaccine_name","manufacturer","lot_number",` +
		`"dose_number","total_doses","vaccination_date","administering_centre","country",` +
		`"nationality","valid_from","expiry_date","issuing_authority","archive_number","photo",` +
		`"sex","male","female","birth_date","address","licence_number","issue_date",`,
	// Other credential types, and the holder keys of other curves.
	`"vct":"urn:ezheng:vct:BusinessLicence"}`,
	`"vct":"urn:ezheng:vct:DegreeCertificate"}`,
	`"vct":"urn:ezheng:vct:ResidencePermit"}`,
	`"vct":"urn:ezheng:vct:VaccinationCertificate"}`,
	`"vct":"urn:ezheng:vct:HealthCode"}`,
	`"cnf":{"jwk":{"crv":"Ed25519","kty":"OKP","x":"` + "\xfb\x20" + `"}},`,
	`{"alg":"ES256","kid":"did:ez:` + "\xfb\x22" + `#key-1","typ":"dc+sd-jwt"}`,
	`{"aud":"urn:ezheng:counter","iat":` + "\xfd",
	// The issuer payload of an SD-JWT VC, sorted keys as ezheng's issuer writes them.
	`{"_sd":["` + "\xf9\x00" + `","` + "\xf9\x01" + `","` + "\xf9\x02" + `","` + "\xfb\x20" + `","` +
		"\xfb\x20" + `","` + "\xfb\x20" + `","` + "\xfb\x20" + `"],"_sd_alg":"sha-256",` +
		`"cnf":{"jwk":{"crv":"P-256","kty":"EC","x":"` + "\xfb\x20" + `","y":"` + "\xfb\x20" + `"}},` +
		`"exp":` + "\xfd" + `,"iat":` + "\xfd" + `,"iss":"did:ez:` + "\xfc\x00" + `",` +
		`"status":{"status_list":{"idx":` + "\xfd" + `,"uri":"http://127.0.0.1:8080/issuer/v1/status/sl_` + "\xfb\x10" + `"}},` +
		`"vct":"urn:ezheng:vct:DrivingLicence"}`,
	// The disclosures a counter asks for most, then the KB-JWT payload.
	`["` + "\xfb\x10" + `","family_name","` + "\x00" + `["` + "\xfb\x10" + `","given_name","` +
		"\x00" + `["` + "\xfb\x10" + `","licence_class","` + "\x02\x00",
	`{"aud":"counter-traffic-police-1","iat":` + "\xfd",
	`,"nonce":"` + "\xfb\x0c" + `","sd_hash":"` + "\xfa" + `"}` + "\x01\x40",
	// The record's start: flags, count, the issuer header.
	"\x01\x03\x00" + `{"alg":"EdDSA","kid":"did:ez:` + "\xfb\x22" + `#key-1","typ":"dc+sd-jwt"}`,
}, ""))
