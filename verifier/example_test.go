package verifier_test

import (
	"fmt"

	"github.com/ezheng/ezheng/verifier"
)

func ExampleParsePolicy() {
	p, err := verifier.ParsePolicy("counter.yaml", []byte(`
name: hotel-checkin
types: [ResidencePermit, DrivingLicence]
disclose: [family_name, given_name]
max_qr_age: 2m
max_bundle_age: 12h
stale_bundle: flag
may_skip: [anchor]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Name, p.Types, p.MaxQRAge.D, p.MaxBundleAge.D, p.StaleBundle)
	// Output: hotel-checkin [ResidencePermit DrivingLicence] 2m0s 12h0m0s flag
}

func ExampleDetectFormat() {
	for _, text := range []string{
		`{"@context":["https://www.w3.org/2018/credentials/v1"]}`,
		"eyJhbGciOiJFZERTQSIsInR5cCI6InZjK2p3dCJ9.e30.c2ln",
		"eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.e30.c2ln",
		"eyJhbGciOiJFZERTQSJ9.e30.c2ln~WyJzIiwibiIsInYiXQ~",
		"hello",
	} {
		format, err := verifier.DetectFormat(text)
		fmt.Println(format, err != nil)
	}
	// Output:
	// ldp_vc false
	// vc+jwt false
	// jwt_vc_json false
	// dc+sd-jwt false
	//  true
}
