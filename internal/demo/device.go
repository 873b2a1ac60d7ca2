package demo

import (
	"crypto"
	"errors"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/dpop"
	"github.com/ezheng/ezheng/internal/secret"
)

// DeviceSigner returns the demo phone's private device key.
func (c Citizen) DeviceSigner() (crypto.Signer, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(c.DeviceKey); err != nil {
		return nil, err
	}
	s, ok := k.Key.(crypto.Signer)
	if !ok || k.IsPublic() {
		return nil, errors.New("demo: device_key is not a private key")
	}
	return s, nil
}

// Authorize makes req a bridge call of the demo phone: "Authorization: DPoP <token>" and a
// DPoP proof for req's method and URL (without query), signed with the device key, issued
// at now with a random jti. Call it once per request: a proof is single-use.
func (c Citizen) Authorize(req *http.Request, now time.Time) error {
	key, err := c.DeviceSigner()
	if err != nil {
		return err
	}
	u := *req.URL
	u.RawQuery, u.Fragment = "", ""
	proof, err := dpop.NewProof(key, req.Method, u.String(), c.Token, "", now, secret.String(16))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "DPoP "+c.Token)
	req.Header.Set("DPoP", proof)
	return nil
}
