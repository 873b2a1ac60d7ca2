package oid4vp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
)

// Authorization Error Response codes the wallet may send (section 8.5).
const (
	ErrorAccessDenied   = "access_denied"
	ErrorInvalidRequest = "invalid_request"
)

// maxPresentations bounds the presentations in one vp_token.
const maxPresentations = 64

// Response is a direct_post Authorization Response (section 8.2): either a vp_token or an
// error, with the request's state.
type Response struct {
	// VPToken maps each answered Credential Query id to its presentations (section 8.1);
	// for dc+sd-jwt each is an SD-JWT with a key-binding JWT.
	VPToken map[string][]string
	// State is the request's state.
	State string
	// Error and ErrorDescription are set instead of VPToken when the wallet declines.
	Error            string
	ErrorDescription string
}

// Encode returns the response as an application/x-www-form-urlencoded body.
func (r *Response) Encode() (string, error) {
	v := url.Values{}
	if r.Error != "" {
		v.Set("error", r.Error)
		if r.ErrorDescription != "" {
			v.Set("error_description", r.ErrorDescription)
		}
	} else {
		b, err := encodeJSON(r.VPToken)
		if err != nil {
			return "", err
		}
		v.Set("vp_token", string(b))
	}
	if r.State != "" {
		v.Set("state", r.State)
	}
	return v.Encode(), nil
}

// ParseResponse parses the form parameters of a direct_post response: exactly one of
// vp_token (a JSON object of at most MaxVPTokenSize bytes mapping Credential Query ids to
// non-empty arrays of non-empty strings, at most 64 in all) and error; at most one state,
// error_description. Repeated parameters are refused. Errors wrap ErrMalformed or
// ErrTooLarge.
func ParseResponse(form url.Values) (*Response, error) {
	for _, p := range []string{"vp_token", "state", "error", "error_description"} {
		if len(form[p]) > 1 {
			return nil, fmt.Errorf("%w: response: %s repeated", ErrMalformed, p)
		}
	}
	r := &Response{State: form.Get("state"), Error: form.Get("error"), ErrorDescription: form.Get("error_description")}
	if len(r.State) > maxNonceLength || len(r.Error) > maxNameLength || len(r.ErrorDescription) > maxPurposeLength {
		return nil, fmt.Errorf("%w: response: state or error too long", ErrTooLarge)
	}
	tok, hasTok := form["vp_token"]
	switch {
	case hasTok && r.Error != "":
		return nil, fmt.Errorf("%w: response: both vp_token and error", ErrMalformed)
	case r.Error != "":
		return r, nil
	case !hasTok:
		return nil, fmt.Errorf("%w: response: vp_token missing", ErrMalformed)
	}
	var raw map[string]json.RawMessage
	if err := decodeStrict([]byte(tok[0]), MaxVPTokenSize, "vp_token", &raw); err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: vp_token is empty", ErrMalformed)
	}
	r.VPToken = make(map[string][]string, len(raw))
	n := 0
	for id, v := range raw {
		if !validID(id) {
			return nil, fmt.Errorf("%w: vp_token: %q is not a credential query id", ErrMalformed, id)
		}
		var list []string
		if !bytes.HasPrefix(bytes.TrimSpace(v), []byte("[")) {
			return nil, fmt.Errorf("%w: vp_token: %q is not an array of presentations", ErrMalformed, id)
		}
		if err := json.Unmarshal(v, &list); err != nil {
			return nil, fmt.Errorf("%w: vp_token: %q is not an array of strings", ErrMalformed, id)
		}
		if len(list) == 0 {
			return nil, fmt.Errorf("%w: vp_token: %q has no presentation", ErrMalformed, id)
		}
		for _, p := range list {
			if p == "" {
				return nil, fmt.Errorf("%w: vp_token: %q holds an empty presentation", ErrMalformed, id)
			}
		}
		n += len(list)
		if n > maxPresentations {
			return nil, fmt.Errorf("%w: vp_token holds more than %d presentations", ErrTooLarge, maxPresentations)
		}
		r.VPToken[id] = list
	}
	return r, nil
}
