package issuerhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/ldvc"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/vcjwt"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/issuer"
	"github.com/ezheng/ezheng/issuer/credtype"
)

// VCAPIIssueRequest is the body of POST /credentials/issue, the W3C VC-API "issue credential"
// endpoint: an unsigned VCDM 1.1 or 2.0 credential and the issuance options.
type VCAPIIssueRequest struct {
	// Credential is the credential to issue: @context (credentials v1 or v2 first, then
	// optionally our licence context), type ["VerifiableCredential", <type name>],
	// credentialSubject {"id": holder DID, claims...}, and optionally issuer (which must be the
	// agency's DID) and validFrom or issuanceDate (which must be now). Other members are
	// refused: the issuer sets them.
	Credential map[string]any `json:"credential"`
	// Options are the issuance options; nil for the defaults.
	Options *VCAPIIssueOptions `json:"options,omitempty"`
}

// VCAPIIssueOptions are the options of a VCAPIIssueRequest.
type VCAPIIssueOptions struct {
	// Format is the format of the credential returned: "ldp_vc", "vc+jwt", "jwt_vc_json" or
	// "dc+sd-jwt". Empty picks the first of those, in that order, that the credential's type
	// and claims allow.
	Format string `json:"format,omitempty"`
}

// VCAPIIssueResponse is the 201 answer of POST /credentials/issue.
type VCAPIIssueResponse struct {
	// VerifiableCredential is the issued credential: a JSON object for ldp_vc, a string (the
	// compact JWS or the SD-JWT) for the other formats.
	VerifiableCredential json.RawMessage `json:"verifiableCredential"`
}

// vcapiIssuer is the service ability the VC-API endpoint needs besides Service.
type vcapiIssuer interface {
	IssueW3C(ctx context.Context, a issuer.Agency, req issuer.W3CRequest) (issuer.Credential, string, bool, error)
}

// registerVCAPI mounts the W3C VC-API issuer endpoint, POST /credentials/issue, when the
// service can issue W3C formats.
func registerVCAPI(e *echo.Echo, h handler) {
	svc, ok := h.svc.(vcapiIssuer)
	if !ok {
		return
	}
	e.POST("/credentials/issue", func(c echo.Context) error { return h.vcapiIssue(c, svc) })
}

// vcapiIssue issues a credential in every format its type asks for, stores it like POST
// /issuer/v1/credentials does, and answers with the one format the request asked for. An
// Idempotency-Key header works as there; the answer is 201 either way, as VC-API specifies.
func (h handler) vcapiIssue(c echo.Context, svc vcapiIssuer) error {
	a, err := h.auth(c)
	if err != nil {
		return err
	}
	var body VCAPIIssueRequest
	if err := web.Bind(c, &body); err != nil {
		return err
	}
	req, iss, err := parseVCAPICredential(body.Credential)
	if err != nil {
		return err
	}
	if iss != "" && iss != a.DID {
		return fmt.Errorf("%w: credential.issuer must be absent or the agency's DID %s", issuer.ErrInvalidRequest, a.DID)
	}
	if body.Options != nil {
		req.Format = body.Options.Format
	}
	req.IdempotencyKey = c.Request().Header.Get("Idempotency-Key")
	cr, raw, _, err := svc.IssueW3C(c.Request().Context(), a, req)
	var ce *credtype.ClaimsError
	if errors.As(err, &ce) {
		return vcapiClaimsProblem(ce)
	}
	if err != nil {
		return err
	}
	vc := json.RawMessage(raw)
	if !strings.HasPrefix(raw, "{") { // the JWT formats and the SD-JWT are strings
		if vc, err = json.Marshal(raw); err != nil {
			return err
		}
	}
	c.Response().Header().Set(echo.HeaderLocation, "/issuer/v1/credentials/"+cr.ID)
	return c.JSON(http.StatusCreated, VCAPIIssueResponse{VerifiableCredential: vc})
}

// vcapiMembers are the credential members a VC-API issue request may carry.
var vcapiMembers = []string{"@context", "type", "issuer", "credentialSubject", "validFrom", "issuanceDate"}

// parseVCAPICredential checks the shape of a VC-API credential and returns the issuance it
// asks for and the issuer it names ("" for none). Errors wrap issuer.ErrInvalidRequest.
func parseVCAPICredential(cred map[string]any) (issuer.W3CRequest, string, error) {
	var req issuer.W3CRequest
	bad := func(format string, args ...any) (issuer.W3CRequest, string, error) {
		return issuer.W3CRequest{}, "", fmt.Errorf("%w: credential%s", issuer.ErrInvalidRequest, fmt.Sprintf(format, args...))
	}
	if cred == nil {
		return bad(" is required")
	}
	names := make([]string, 0, len(cred))
	for k := range cred {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !slices.Contains(vcapiMembers, k) {
			return bad(".%s is not supported: the issuer sets it or does not issue it", k)
		}
	}

	ctxs, ok := stringList(cred["@context"])
	if !ok || len(ctxs) == 0 {
		return bad(`["@context"] must be a list of URLs`)
	}
	if ctxs[0] != vcjwt.ContextV1 && ctxs[0] != vcjwt.ContextV2 {
		return bad(`["@context"] must begin with %s or %s`, vcjwt.ContextV1, vcjwt.ContextV2)
	}
	for _, u := range ctxs[1:] {
		if u != ldvc.ContextLicenceV1 && u != ldvc.ContextEd25519Signature2020 {
			return bad(`["@context"]: %q is not a context this issuer uses`, u)
		}
	}

	types, ok := stringList(cred["type"])
	if !ok || len(types) != 2 || !slices.Contains(types, vcjwt.TypeCredential) || types[0] == types[1] {
		return bad(`.type must be ["VerifiableCredential", "<credential type>"]`)
	}
	req.Type = types[0]
	if req.Type == vcjwt.TypeCredential {
		req.Type = types[1]
	}

	var iss string
	switch v := cred["issuer"].(type) {
	case nil:
	case string:
		iss = v
	case map[string]any:
		id, ok := v["id"].(string)
		if !ok || len(v) != 1 {
			return bad(`.issuer must be a DID or {"id": DID}`)
		}
		iss = id
	default:
		return bad(`.issuer must be a DID or {"id": DID}`)
	}

	subject, ok := cred["credentialSubject"].(map[string]any)
	if !ok {
		return bad(".credentialSubject must be one object")
	}
	holder, ok := subject["id"].(string)
	if !ok || !strings.HasPrefix(holder, "did:") {
		return bad(".credentialSubject.id must be the holder's DID")
	}
	req.Holder = holder
	req.Claims = make(map[string]any, len(subject)-1)
	for k, v := range subject {
		if k != "id" {
			req.Claims[k] = v
		}
	}

	for _, k := range []string{"validFrom", "issuanceDate"} {
		v, present := cred[k]
		if !present {
			continue
		}
		s, _ := v.(string)
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return bad(".%s must be an RFC 3339 date-time", k)
		}
		if !req.ValidFrom.IsZero() && !t.Equal(req.ValidFrom) {
			return bad(".validFrom and .issuanceDate differ")
		}
		req.ValidFrom = t
	}
	return req, iss, nil
}

// stringList returns v as a list of strings: a JSON array of strings, or one string.
func stringList(v any) ([]string, bool) {
	switch v := v.(type) {
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// vcapiClaimsProblem lists every claim violation as a field of credential.credentialSubject.
func vcapiClaimsProblem(ce *credtype.ClaimsError) *problem.Problem {
	p := claimsProblem(ce)
	for i, v := range ce.Violations {
		p.Errors[i].Field = "credential/credentialSubject" + v.Path
	}
	return p
}

// formatsJSON turns a credential's formats into the "formats" member of CredentialResponse:
// JSON documents (ldp_vc) as they are, tokens as JSON strings. It returns nil for none.
func formatsJSON(formats map[string]string) map[string]json.RawMessage {
	if len(formats) == 0 {
		return nil
	}
	out := make(map[string]json.RawMessage, len(formats))
	for f, raw := range formats {
		if f == issuer.FormatLDPVC {
			out[f] = json.RawMessage(raw)
			continue
		}
		b, _ := json.Marshal(raw) // a string always encodes
		out[f] = b
	}
	return out
}
