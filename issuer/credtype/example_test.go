package credtype_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing/fstest"

	"github.com/ezheng/ezheng/issuer/credtype"
)

func ExampleRegistry_Lookup() {
	hc, err := credtype.Builtin().Lookup("HealthCode")
	if err != nil {
		panic(err)
	}
	fmt.Println(hc.VCT, hc.Validity, hc.Refresh, hc.Required)
	// Output: urn:ezheng:vct:HealthCode 24h0m0s 24h0m0s [family_name given_name health_status]
}

func ExampleType_Example() {
	hc, _ := credtype.Builtin().Lookup("HealthCode")
	b, _ := json.Marshal(hc.Example())
	fmt.Println(string(b))
	// Output: {"assessed_at":"2026-11-21T06:00:00+08:00","family_name":"张","given_name":"三","health_status":"green","id_number_hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","region":"浙江省杭州市西湖区","region_code":"330106"}
}

func ExampleType_Validate() {
	dl, _ := credtype.Builtin().Lookup("DrivingLicence")
	claims := dl.Example()
	claims["licence_class"] = "Q7"
	claims["blood_type"] = "AB"
	delete(claims, "given_name")

	err := dl.Validate(claims)
	var ce *credtype.ClaimsError
	if errors.As(err, &ce) {
		for _, v := range ce.Violations {
			fmt.Printf("%s: %s\n", v.Path, v.Reason)
		}
	}
	fmt.Println(errors.Is(err, credtype.ErrInvalidClaims))
	// Output:
	// /blood_type: not a claim of DrivingLicence
	// /given_name: required
	// /licence_class: does not match pattern ^(A1|A2|A3|B1|B2|C1|C2|C3|C4|C5|C6|D|E|F|M|N|P)+$
	// true
}

func ExampleLoad() {
	files := fstest.MapFS{"library-card.yaml": {Data: []byte(`
name: LibraryCard
validity: 2y
formats: [dc+sd-jwt]
disclosable: all
schema:
  type: object
  additionalProperties: false
  required: [card_number]
  properties:
    card_number: {type: string, pattern: "^[0-9]{8}$", maxLength: 8}
display:
  - {lang: zh-CN, name: 借书证, background_color: "#12345"}
  - {lang: en, name: Library card}
example: {card_number: "1234"}
`)}}
	_, err := credtype.Load(files)
	fmt.Println(err)
	// Output:
	// credtype: library-card.yaml: field display.0.background_color: "#12345" is not #rrggbb
	// credtype: library-card.yaml: field example: does not match schema: invalid claims for LibraryCard: /card_number: does not match pattern ^[0-9]{8}$
}
