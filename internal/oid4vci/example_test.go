package oid4vci_test

import (
	"fmt"

	"github.com/ezheng/ezheng/internal/oid4vci"
)

func ExampleEncodeOfferURI() {
	offer := &oid4vci.CredentialOffer{
		CredentialIssuer:           "https://issuer.example.gov",
		CredentialConfigurationIDs: []string{"DrivingLicence"},
		Grants: &oid4vci.Grants{PreAuthorizedCode: &oid4vci.PreAuthorizedCodeGrant{
			PreAuthorizedCode: "SplxlOBeZQQYbYS6WxSbIA",
			TxCode:            &oid4vci.TxCode{InputMode: oid4vci.TxCodeNumeric, Length: 6, Description: "PIN sent by SMS"},
		}},
	}
	uri, err := oid4vci.EncodeOfferURI(offer)
	if err != nil {
		panic(err)
	}
	fmt.Println(uri)

	parsed, _, err := oid4vci.ParseOfferURI(uri)
	if err != nil {
		panic(err)
	}
	fmt.Println(parsed.CredentialConfigurationIDs, parsed.Grants.PreAuthorizedCode.TxCode.Length)
	// Output:
	// openid-credential-offer://?credential_offer=%7B%22credential_issuer%22%3A%22https%3A%2F%2Fissuer.example.gov%22%2C%22credential_configuration_ids%22%3A%5B%22DrivingLicence%22%5D%2C%22grants%22%3A%7B%22urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code%22%3A%7B%22pre-authorized_code%22%3A%22SplxlOBeZQQYbYS6WxSbIA%22%2C%22tx_code%22%3A%7B%22input_mode%22%3A%22numeric%22%2C%22length%22%3A6%2C%22description%22%3A%22PIN%20sent%20by%20SMS%22%7D%7D%7D%7D
	// [DrivingLicence] 6
}
