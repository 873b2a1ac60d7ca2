package oid4vp

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseQueryRejects(t *testing.T) {
	cases := []struct {
		name, json string
		want       error
	}{
		{"empty credentials", `{"credentials":[]}`, ErrMalformed},
		{"bad id", `{"credentials":[{"id":"a b","format":"dc+sd-jwt","meta":{"vct_values":["x"]}}]}`, ErrMalformed},
		{"repeated id", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]}},{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]}}]}`, ErrMalformed},
		{"no vct_values", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{}}]}`, ErrMalformed},
		{"no format", `{"credentials":[{"id":"a","meta":{"vct_values":["x"]}}]}`, ErrMalformed},
		{"empty path", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"claims":[{"path":[]}]}]}`, ErrMalformed},
		{"negative index", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"claims":[{"path":["a",-1]}]}]}`, ErrMalformed},
		{"path starts with index", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"claims":[{"path":[0]}]}]}`, ErrMalformed},
		{"object value", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"claims":[{"path":["a"],"values":[{}]}]}]}`, ErrMalformed},
		{"claim set without ids", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"claims":[{"path":["a"]}],"claim_sets":[["x"]]}]}`, ErrMalformed},
		{"claim set unknown id", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"claims":[{"id":"x","path":["a"]}],"claim_sets":[["y"]]}]}`, ErrMalformed},
		{"credential set unknown id", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]}}],"credential_sets":[{"options":[["b"]]}]}`, ErrMalformed},
		{"credential set no options", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]}}],"credential_sets":[{"options":[]}]}`, ErrMalformed},
		{"duplicate member", `{"credentials":[],"credentials":[]}`, ErrMalformed},
		{"case-folded duplicate", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]}}],"Credentials":[]}`, ErrMalformed},
		{"not an object", `[]`, ErrMalformed},
		{"too deep", `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}]}`, ErrTooLarge},
		{"too large", `{"credentials":[],"x":"` + strings.Repeat("a", MaxQuerySize) + `"}`, ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseQuery([]byte(tc.json))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseQueryTestdataRoundTrip(t *testing.T) {
	for _, name := range []string{"dcql_two_claims.json", "dcql_sets.json"} {
		t.Run(name, func(t *testing.T) {
			q, err := ParseQuery(readTestdata(t, name))
			if err != nil {
				t.Fatal(err)
			}
			b, err := q.Encode()
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseQuery(b)
			if err != nil || !reflect.DeepEqual(again, q) {
				t.Fatalf("round trip: %v\n%+v\n%+v", err, again, q)
			}
		})
	}
}

func licenceCandidate(id string, claims ...string) Candidate {
	c := Candidate{ID: id, Format: FormatSDJWTVC, VCT: "https://ezheng.example/credentials/DrivingLicence",
		Claims: map[string]any{"iss": "did:ez:x", "vct": "https://ezheng.example/credentials/DrivingLicence"}}
	for _, n := range claims {
		c.Claims[n] = "v-" + n
		c.Disclosable = append(c.Disclosable, n)
	}
	return c
}

func TestEvaluateTwoClaims(t *testing.T) {
	q, err := ParseQuery(readTestdata(t, "dcql_two_claims.json"))
	if err != nil {
		t.Fatal(err)
	}
	full := licenceCandidate("c1", "family_name", "given_name", "licence_class", "birth_date")
	partial := licenceCandidate("c2", "family_name")
	other := full
	other.ID, other.VCT = "c3", "https://ezheng.example/credentials/BusinessLicence"
	ev := q.Evaluate([]Candidate{partial, full, other})
	want := Evaluation{Satisfied: true, Selected: []string{"licence"}, Matches: map[string][]Match{
		"licence": {{QueryID: "licence", CredentialID: "c1", Claims: []string{"family_name", "licence_class"}, Disclose: []string{"family_name", "licence_class"}}},
	}}
	if !reflect.DeepEqual(ev, want) {
		t.Fatalf("got %+v\nwant %+v", ev, want)
	}
	ev = q.Evaluate([]Candidate{partial, other})
	if ev.Satisfied || !reflect.DeepEqual(ev.Unsatisfied, []string{"licence"}) {
		t.Fatalf("without a full licence: %+v", ev)
	}
}

func TestEvaluateClaimSetsAndCredentialSets(t *testing.T) {
	q, err := ParseQuery(readTestdata(t, "dcql_sets.json"))
	if err != nil {
		t.Fatal(err)
	}
	pid := func(id string, claims map[string]any) Candidate {
		c := Candidate{ID: id, Format: FormatSDJWTVC, VCT: "urn:eudi:pid:1", Claims: claims}
		for n := range claims {
			c.Disclosable = append(c.Disclosable, n)
		}
		return c
	}
	var decoded map[string]any
	json.Unmarshal([]byte(`{"family_name":"Li","nationalities":["FR","DE"],"age_over_18":true}`), &decoded)
	lic := Candidate{ID: "dl", Format: FormatSDJWTVC, VCT: "DrivingLicence", Claims: map[string]any{}}

	cases := []struct {
		name        string
		cands       []Candidate
		satisfied   bool
		selected    []string
		pidClaims   []string
		unsatisfied []string
	}{
		{"first claim set", []Candidate{lic, pid("p", map[string]any{"family_name": "Li", "address": map[string]any{"street_address": "1 Road"}})}, true, []string{"pid", "licence"}, []string{"family_name", "address/street_address"}, nil},
		{"second claim set by values", []Candidate{lic, pid("p", decoded)}, true, []string{"pid", "licence"}, []string{"family_name", "nationalities/*", "age_over_18"}, nil},
		{"optional set unmet", []Candidate{lic, pid("p", map[string]any{"family_name": "Li", "nationalities": []any{"FR"}, "age_over_18": true})}, true, []string{"licence"}, nil, nil},
		{"required set unmet", []Candidate{pid("p", decoded)}, false, []string{"pid"}, []string{"family_name", "nationalities/*", "age_over_18"}, []string{"credential_sets[0]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := q.Evaluate(tc.cands)
			if ev.Satisfied != tc.satisfied || !reflect.DeepEqual(ev.Selected, tc.selected) || !reflect.DeepEqual(ev.Unsatisfied, tc.unsatisfied) {
				t.Fatalf("got %+v", ev)
			}
			var got []string
			if m := ev.Matches["pid"]; len(m) > 0 {
				got = m[0].Claims
			}
			if !reflect.DeepEqual(got, tc.pidClaims) {
				t.Fatalf("pid claims %v, want %v", got, tc.pidClaims)
			}
		})
	}
}

func TestCheckPresented(t *testing.T) {
	q, err := ParseQuery(readTestdata(t, "dcql_two_claims.json"))
	if err != nil {
		t.Fatal(err)
	}
	good := licenceCandidate("", "family_name", "licence_class")
	cases := []struct {
		name      string
		presented map[string][]Candidate
		ok        bool
	}{
		{"answered", map[string][]Candidate{"licence": {good}}, true},
		{"nothing", map[string][]Candidate{}, false},
		{"missing claim", map[string][]Candidate{"licence": {licenceCandidate("", "family_name")}}, false},
		{"unasked query", map[string][]Candidate{"licence": {good}, "other": {good}}, false},
		{"two without multiple", map[string][]Candidate{"licence": {good, good}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := q.CheckPresented(tc.presented)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrNotSatisfied)) {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
