package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestDIDResolution: the W3C DID Resolution endpoint resolves the demo DIDs and answers bad
// DIDs with the DID Resolution error types.
func TestDIDResolution(t *testing.T) {
	f := newFixture(t)
	psb, _ := f.world.Agency("DrivingLicence")
	for _, d := range []string{psb.DID, f.world.Citizen.DID} {
		r := f.do(http.MethodGet, "/1.0/identifiers/"+url.PathEscape(d), "", "", nil)
		if r.status != 200 || r.ctype != "application/did-resolution" {
			t.Fatalf("resolve %s: HTTP %d %s", d, r.status, r.ctype)
		}
		var res struct {
			DIDDocument struct {
				ID              string   `json:"id"`
				AssertionMethod []string `json:"assertionMethod"`
			} `json:"didDocument"`
		}
		json.Unmarshal(r.body, &res)
		if res.DIDDocument.ID != d || len(res.DIDDocument.AssertionMethod) != 1 {
			t.Fatalf("document for %s: %s", d, r.body)
		}
	}
	r := f.do(http.MethodGet, "/1.0/identifiers/"+psb.DID, "", "", nil, "Accept", "application/did+ld+json")
	if r.status != 200 || r.ctype != "application/did+ld+json" {
		t.Fatalf("document only: HTTP %d %s", r.status, r.ctype)
	}
	for _, tt := range []struct {
		did    string
		status int
		ptype  string
	}{
		{"not-a-did", 400, "https://www.w3.org/ns/did#INVALID_DID"},
		{"did:key:zzzz", 400, "https://www.w3.org/ns/did#INVALID_DID"},
		{"did:key:a%2Fb", 400, "https://www.w3.org/ns/did#INVALID_DID"},
		{"did:example:123", 501, "https://www.w3.org/ns/did#METHOD_NOT_SUPPORTED"},
		{"did:web:127.0.0.1%3A1", 404, "https://www.w3.org/ns/did#NOT_FOUND"}, // internal addresses are refused
	} {
		r := f.do(http.MethodGet, "/1.0/identifiers/"+tt.did, "", "", nil)
		if r.status != tt.status || r.problemType() != tt.ptype {
			t.Errorf("%s: HTTP %d %s, want %d %s", tt.did, r.status, r.problemType(), tt.status, tt.ptype)
		}
	}
}
