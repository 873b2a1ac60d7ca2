package oid4vp_test

import (
	"fmt"

	"github.com/ezheng/ezheng/internal/oid4vp"
)

// A wallet evaluates a verifier's DCQL query against the credentials it holds to learn which
// credential answers it and which claims a presentation would disclose.
func ExampleQuery_Evaluate() {
	q, err := oid4vp.ParseQuery([]byte(`{"credentials":[{"id":"licence","format":"dc+sd-jwt",
		"meta":{"vct_values":["urn:ezheng:vct:DrivingLicence"]},
		"claims":[{"path":["family_name"]},{"path":["licence_class"],"values":["B","C1"]}]}]}`))
	if err != nil {
		panic(err)
	}
	held := []oid4vp.Candidate{{
		ID: "wc_1", Format: oid4vp.FormatSDJWTVC, VCT: "urn:ezheng:vct:DrivingLicence",
		Claims:      map[string]any{"family_name": "张", "given_name": "三", "licence_class": "C1"},
		Disclosable: []string{"family_name", "given_name", "licence_class"},
	}}
	ev := q.Evaluate(held)
	fmt.Println(ev.Satisfied, ev.Selected, ev.Matches["licence"][0].Disclose)
	// Output: true [licence] [family_name licence_class]
}
