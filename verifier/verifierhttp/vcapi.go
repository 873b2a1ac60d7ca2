package verifierhttp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/verifier"
)

// The W3C VC-API verifier (https://w3c-ccg.github.io/vc-api/): POST /credentials/verify and
// POST /presentations/verify answer 200 with the VC-API verification result when the input
// verified and 400 with the same body when it did not; input that is no credential at all is
// a 400 problem. The body carries the full verifier.Result as "result" besides the VC-API
// members, so a client can tell which check failed.

// VCAPIOptions are the verification options of a VC-API request. Policy is ours; challenge
// and domain are the VC-API's names for the nonce and audience of a presentation.
type VCAPIOptions struct {
	Policy    string          `json:"policy,omitempty"`
	Challenge string          `json:"challenge,omitempty"`
	Domain    string          `json:"domain,omitempty"`
	Receipt   json.RawMessage `json:"receipt,omitempty"`
}

// VCAPICredentialRequest is the body of POST /credentials/verify.
type VCAPICredentialRequest struct {
	VerifiableCredential json.RawMessage `json:"verifiableCredential"`
	Options              VCAPIOptions    `json:"options,omitzero"`
}

// VCAPIPresentationRequest is the body of POST /presentations/verify.
type VCAPIPresentationRequest struct {
	VerifiablePresentation json.RawMessage `json:"verifiablePresentation"`
	Options                VCAPIOptions    `json:"options,omitzero"`
}

// VCAPIResult is the answer of both VC-API verify endpoints.
type VCAPIResult struct {
	Verified bool `json:"verified"`
	// Checks names the checks that passed.
	Checks []string `json:"checks"`
	// Warnings hold skipped checks and policy warnings.
	Warnings []VCAPIProblem `json:"warnings"`
	// Errors hold the failed checks.
	Errors []VCAPIProblem `json:"errors"`
	// Result is the verifier's full answer.
	Result verifier.Result `json:"result"`
}

// VCAPIProblem is a VC-API problem detail: the failed check's problem type, its name as title
// and the reason as detail.
type VCAPIProblem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
}

func (h handler) vcapiCredential(c echo.Context) error {
	var req VCAPICredentialRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	if len(req.VerifiableCredential) == 0 {
		return fmt.Errorf("%w: \"verifiableCredential\" is required", problem.ErrMalformed)
	}
	text, err := credentialText(req.VerifiableCredential)
	if err != nil {
		return err
	}
	policy := req.Options.Policy
	if policy == "" {
		policy = "credential"
	}
	res, err := h.svc.Verify(c.Request().Context(), text, verifier.Options{Policy: policy, Receipt: receipt(req.Options.Receipt)})
	if err != nil {
		return err
	}
	return vcapiAnswer(c, res)
}

func (h handler) vcapiPresentation(c echo.Context) error {
	var req VCAPIPresentationRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	if len(req.VerifiablePresentation) == 0 {
		return fmt.Errorf("%w: \"verifiablePresentation\" is required", problem.ErrMalformed)
	}
	text, err := credentialText(req.VerifiablePresentation)
	if err != nil {
		return err
	}
	if !strings.Contains(text, "~") {
		return fmt.Errorf("%w: a presentation is an SD-JWT VC with a key-binding JWT (as a string or an EnvelopedVerifiablePresentation)", verifier.ErrNotPresentation)
	}
	// domain is the audience the key-binding JWT must name (without it, the generic counter
	// audience); challenge is the nonce it must carry.
	opts := verifier.Options{Policy: req.Options.Policy, Audience: req.Options.Domain, Nonce: req.Options.Challenge, Receipt: receipt(req.Options.Receipt)}
	res, err := h.svc.Verify(c.Request().Context(), text, opts)
	if err != nil {
		return err
	}
	return vcapiAnswer(c, res)
}

func vcapiAnswer(c echo.Context, res verifier.Result) error {
	out := VCAPIResult{Verified: res.Valid, Checks: []string{}, Warnings: []VCAPIProblem{}, Errors: []VCAPIProblem{}, Result: res}
	for _, ch := range res.Checks {
		p := VCAPIProblem{Type: "/problems/check-" + strings.ReplaceAll(ch.Name, "_", "-"), Title: ch.Name, Detail: ch.Reason}
		switch {
		case ch.OK:
			out.Checks = append(out.Checks, ch.Name)
		case ch.Skipped:
			out.Warnings = append(out.Warnings, p)
		default:
			out.Errors = append(out.Errors, p)
		}
	}
	for _, w := range res.Warnings {
		out.Warnings = append(out.Warnings, VCAPIProblem{Type: "/problems/verification-warning", Title: "warning", Detail: w})
	}
	status := http.StatusOK
	if !res.Valid {
		status = http.StatusBadRequest
	}
	return c.JSON(status, out)
}

// credentialText turns a JSON value holding a credential or presentation into the text the
// verifier takes: a string as it is (SD-JWT, vc+jwt, JWT-VC); an enveloped credential or
// presentation ({"type": "EnvelopedVerifiableCredential", "id": "data:application/vc+jwt,…"})
// as the data URL's payload; any other object (a JSON-LD credential) as its JSON bytes.
func credentialText(raw json.RawMessage) (string, error) {
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	if len(raw) == 0 {
		return "", fmt.Errorf("%w: empty credential", problem.ErrMalformed)
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || s == "" {
			return "", fmt.Errorf("%w: credential string is malformed or empty", problem.ErrMalformed)
		}
		return s, nil
	case '{':
		var env struct {
			Type any    `json:"type"`
			ID   string `json:"id"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			return "", fmt.Errorf("%w: credential is not a JSON object", problem.ErrMalformed)
		}
		if t, _ := env.Type.(string); t == "EnvelopedVerifiableCredential" || t == "EnvelopedVerifiablePresentation" {
			return envelopedPayload(env.ID)
		}
		return string(raw), nil
	}
	return "", fmt.Errorf("%w: a credential is a string or a JSON object", problem.ErrMalformed)
}

// envelopedPayload returns the payload of an enveloped credential's data URL:
// data:application/<vc+jwt|vp+jwt|dc+sd-jwt|vc+sd-jwt>,<token>.
func envelopedPayload(id string) (string, error) {
	mediaType, payload, ok := strings.Cut(strings.TrimPrefix(id, "data:"), ",")
	if !ok || !strings.HasPrefix(id, "data:") || payload == "" {
		return "", fmt.Errorf("%w: an enveloped credential's id is a data: URL", problem.ErrMalformed)
	}
	switch strings.TrimPrefix(mediaType, "application/") {
	case "vc+jwt", "vp+jwt", "dc+sd-jwt", "vc+sd-jwt", "jwt":
		return payload, nil
	}
	return "", fmt.Errorf("%w: enveloped media type %q is not supported", verifier.ErrNotPresentation, mediaType)
}
