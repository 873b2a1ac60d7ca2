package issuer

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/ldvc"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/vcjwt"
	"github.com/ezheng/ezheng/issuer/credtype"
)

// The W3C formats a credential type may ask for besides the SD-JWT VC (FormatSDJWTVC). They are
// the identifiers of credtype's type files and of OpenID4VCI.
const (
	// FormatJWTVC is a VCDM 1.1 JWT-VC (OpenID4VCI "jwt_vc_json"), signed by internal/vcjwt.
	FormatJWTVC = credtype.FormatJWTVCJSON
	// FormatVCJWT is a VCDM 2.0 credential secured with JOSE (application/vc+jwt), signed by
	// internal/vcjwt.
	FormatVCJWT = credtype.FormatVCJWT
	// FormatLDPVC is a VCDM 1.1 JSON-LD credential with an Ed25519Signature2020 proof, signed
	// by internal/ldvc.
	FormatLDPVC = credtype.FormatLDPVC
)

// ErrFormatUnavailable means a credential cannot be issued in the format asked for: the type
// does not list the format, or (ldp_vc) a claim has no term in our JSON-LD context, so the
// Data Integrity proof would not cover it. The error text names the format and the claims.
var ErrFormatUnavailable = errors.New("credential format not available")

// FormatStore is the optional ability of a Store to keep the W3C formats of a credential
// next to its SD-JWT VC. Service finds it on Config.Store by type assertion; without it Issue
// produces the SD-JWT VC only. issuerstore.Store implements it.
type FormatStore interface {
	// SaveCredentialFormats stores the sealed formats of credential id (format identifier to
	// sealed bytes), all in one transaction. A format already stored for id is kept as it is
	// and not an error, so a repeated call after a crash is safe.
	SaveCredentialFormats(ctx context.Context, id string, sealed map[string][]byte) error
	// CredentialFormats returns the sealed formats stored for credential id; an empty map
	// (not an error) when there are none.
	CredentialFormats(ctx context.Context, id string) (map[string][]byte, error)
}

// UndefinedLDTerms returns, sorted, the claims t's schema allows that our JSON-LD context
// (ldvc.ContextLicenceV1) defines no term for, and t.Name itself if the context does not
// define the type. Such claims cannot be issued as ldp_vc: the Data Integrity proof would not
// cover them, so ldvc refuses to sign them. An empty result means every credential of t can
// be issued as ldp_vc.
func UndefinedLDTerms(t *credtype.Type) []string {
	terms := ldTerms()
	var out []string
	if !terms[t.Name] {
		out = append(out, t.Name)
	}
	for _, p := range t.Properties {
		if !terms[p] {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// undefinedLDClaims returns, sorted, the names of the claims (and the type) of one credential
// that our JSON-LD context does not define.
func undefinedLDClaims(t *credtype.Type, claims map[string]any) []string {
	terms := ldTerms()
	var out []string
	if !terms[t.Name] {
		out = append(out, t.Name)
	}
	for k := range claims {
		if !terms[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// ldTerms is the set of terms ldvc.ContextLicenceV1 defines, read once from the embedded
// context document.
var ldTerms = sync.OnceValue(func() map[string]bool {
	terms := map[string]bool{}
	b, ok := ldvc.ContextDocument(ldvc.ContextLicenceV1)
	if !ok {
		return terms
	}
	var doc struct {
		Context map[string]json.RawMessage `json:"@context"`
	}
	if json.Unmarshal(b, &doc) != nil {
		return terms
	}
	for k := range doc.Context {
		if k != "" && k[0] != '@' && k != "id" && k != "type" {
			terms[k] = true
		}
	}
	return terms
})

// warnFormatGaps logs, once at start-up, every built-in type that asks for ldp_vc although our
// JSON-LD context lacks terms for some of its claims: those credentials are issued without
// ldp_vc (see UndefinedLDTerms).
func warnFormatGaps(log *slog.Logger) {
	for _, t := range credtype.Builtin().All() {
		if !slices.Contains(t.Formats, FormatLDPVC) {
			continue
		}
		if gap := UndefinedLDTerms(t); len(gap) > 0 {
			log.Warn("type lists ldp_vc but the JSON-LD context lacks terms; credentials with these claims get no ldp_vc",
				"type", t.Name, "undefined", gap)
		}
	}
}

// ldpUnavailable says why c cannot be issued as ldp_vc, or returns nil.
func ldpUnavailable(t *credtype.Type, claims map[string]any, key *keys.Key) error {
	if gap := undefinedLDClaims(t, claims); len(gap) > 0 {
		return fmt.Errorf("%w: %s: no JSON-LD term for %v in %s", ErrFormatUnavailable, FormatLDPVC, gap, ldvc.ContextLicenceV1)
	}
	if key != nil {
		if _, ok := key.Signer().(ed25519.PrivateKey); !ok {
			return fmt.Errorf("%w: %s needs an Ed25519 signing key", ErrFormatUnavailable, FormatLDPVC)
		}
	}
	return nil
}

// formatAvailable checks that a credential of t with claims can be issued in format.
func formatAvailable(t *credtype.Type, claims map[string]any, format string) error {
	if !slices.Contains(t.Formats, format) {
		return fmt.Errorf("%w: %s is not issued in %s (it is issued in %v)", ErrFormatUnavailable, t.Name, format, t.Formats)
	}
	if format == FormatLDPVC {
		return ldpUnavailable(t, claims, nil)
	}
	return nil
}

// buildFormats signs c (whose ID, Holder, IssuedAt and ExpiresAt are set) in every format t
// asks for besides the SD-JWT VC, from the same claims, as agency a with key. The JWT formats
// carry credentialStatus: the BitstringStatusListEntries of entry e (the credential's index in
// its agency's Token Status List) in the W3C revocation and suspension lists that mirror that
// list (w3cStatuses); ldp_vc carries one (VCDM 1.1 as aries models it holds a single entry):
// the credential's BitstringStatusListEntry in the two-bit message list (ldpStatus), which
// holds revoked and suspended alike. An ldp_vc that cannot be made for these claims is left
// out and logged; any other failure is an error. The results are deterministic for fixed
// inputs (Ed25519, URDNA2015), so building them again for the same credential gives the same
// bytes.
func (s *Service) buildFormats(ctx context.Context, t *credtype.Type, a Agency, key *keys.Key, c Credential, claims map[string]any, e StatusEntry) (map[string]string, error) {
	if _, ok := s.store.(FormatStore); !ok {
		return nil, nil
	}
	out := map[string]string{}
	vc := vcjwt.Credential{
		Issuer: a.DID, Subject: c.Holder, Types: []string{t.Name}, Context: []string{ldvc.ContextLicenceV1},
		ValidFrom: c.IssuedAt, ValidUntil: c.ExpiresAt, Claims: claims, Statuses: s.w3cStatuses(e),
	}
	for _, f := range t.Formats {
		switch f {
		case FormatJWTVC, FormatVCJWT:
			typ, sign := vcjwt.TypeJWT, vcjwt.SignJWTVC11
			if f == FormatVCJWT {
				typ, sign = vcjwt.TypeVCDM2, vcjwt.SignVCDM2
			}
			signer, err := vcjwt.NewSigner(key.Signer(), typ, a.KID)
			if err != nil {
				return nil, fmt.Errorf("%s signer: %w", f, err)
			}
			tok, err := sign(vc, signer)
			if err != nil {
				return nil, fmt.Errorf("sign %s: %w", f, err)
			}
			out[f] = tok
		case FormatLDPVC:
			if err := ldpUnavailable(t, claims, key); err != nil {
				s.log.WarnContext(ctx, "credential issued without ldp_vc", "type", t.Name, "credential", c.ID, "reason", err)
				continue
			}
			raw, err := signLDP(t, a, key.Signer().(ed25519.PrivateKey), c, claims, s.ldpStatus(e))
			if err != nil {
				return nil, err
			}
			out[f] = string(raw)
		}
	}
	return out, nil
}

// signLDP signs c as a VCDM 1.1 JSON-LD credential with an Ed25519Signature2020 proof,
// carrying status (a BitstringStatusListEntry, see ldpStatus) as its credentialStatus unless
// it is nil.
func signLDP(t *credtype.Type, a Agency, key ed25519.PrivateKey, c Credential, claims map[string]any, status map[string]any) ([]byte, error) {
	subject := make(map[string]any, len(claims)+1)
	for k, v := range claims {
		subject[k] = v
	}
	subject["id"] = c.Holder
	cred := map[string]any{
		"@context":          []any{ldvc.ContextCredentialsV1, ldvc.ContextLicenceV1},
		"type":              []any{vcjwt.TypeCredential, t.Name},
		"issuer":            a.DID,
		"issuanceDate":      c.IssuedAt.UTC().Format(time.RFC3339),
		"expirationDate":    c.ExpiresAt.UTC().Format(time.RFC3339),
		"credentialSubject": subject,
	}
	if status != nil {
		cred["@context"] = append(cred["@context"].([]any), ldvc.ContextStatusV1)
		cred["credentialStatus"] = status
	}
	raw, err := ldvc.Sign(cred, key, a.KID, c.IssuedAt)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", FormatLDPVC, err)
	}
	return raw, nil
}

// formatAAD binds a sealed format to its credential and format, so that sealed values cannot
// be swapped between credentials or formats.
func formatAAD(id, format string) []byte { return []byte(id + "\x00" + format) }

// saveFormats seals and stores the formats of credential id.
func (s *Service) saveFormats(ctx context.Context, id string, formats map[string]string) error {
	fs, ok := s.store.(FormatStore)
	if !ok || len(formats) == 0 {
		return nil
	}
	sealed := make(map[string][]byte, len(formats))
	for f, raw := range formats {
		sealed[f] = s.sealer.Seal([]byte(raw), formatAAD(id, f))
	}
	if err := fs.SaveCredentialFormats(ctx, id, sealed); err != nil {
		return fmt.Errorf("save formats of %s: %w", id, err)
	}
	return nil
}

// loadFormats returns the stored formats of credential id, opened; nil when there are none.
func (s *Service) loadFormats(ctx context.Context, id string) (map[string]string, error) {
	fs, ok := s.store.(FormatStore)
	if !ok {
		return nil, nil
	}
	sealed, err := fs.CredentialFormats(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load formats of %s: %w", id, err)
	}
	if len(sealed) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(sealed))
	for f, b := range sealed {
		raw, err := s.sealer.Open(b, formatAAD(id, f))
		if err != nil {
			return nil, fmt.Errorf("open format %s of %s: %w", f, id, err)
		}
		out[f] = string(raw)
	}
	return out, nil
}

// retryFormats returns the formats of prev, a credential an idempotent retry found, building
// and storing any that a crash between saving the SD-JWT VC and its formats left missing. The
// retry's claims are the original ones (the request hashes matched), so the rebuilt formats
// are the ones the first call would have stored.
func (s *Service) retryFormats(ctx context.Context, a Agency, prev Credential, claims map[string]any) (map[string]string, error) {
	have, err := s.loadFormats(ctx, prev.ID)
	if err != nil {
		return nil, err
	}
	t, err := s.AgencyType(ctx, a, prev.Type)
	if err != nil {
		return nil, err
	}
	missing := false
	for _, f := range t.Formats {
		if f == FormatSDJWTVC || have[f] != "" {
			continue
		}
		if f == FormatLDPVC && len(undefinedLDClaims(t, claims)) > 0 {
			continue
		}
		missing = true
	}
	if !missing {
		return have, nil
	}
	a, key, err := s.agencyKey(ctx, a.ID) // the current kid, as the key may have been rotated
	if err != nil {
		return nil, err
	}
	var e StatusEntry
	if s.statuses != nil {
		cs, err := s.statuses.CredentialStatus(ctx, a.ID, prev.ID)
		if err != nil {
			return nil, err
		}
		e = cs.StatusEntry
	}
	// Formats signed now with a key rotated in since the SD-JWT VC was signed would be dated
	// before their key was in force, and a verifier would refuse them: leave them missing.
	if sd, err := sdjwt.Parse(prev.Raw); err != nil || sd.Header["kid"] != a.KID {
		s.log.WarnContext(ctx, "credential formats not rebuilt: the signing key changed", "credential", prev.ID)
		return have, nil
	}
	built, err := s.buildFormats(ctx, t, a, key, prev, claims, e)
	if err != nil {
		return nil, err
	}
	for f := range have {
		delete(built, f)
	}
	if err := s.saveFormats(ctx, prev.ID, built); err != nil {
		return nil, err
	}
	return s.loadFormats(ctx, prev.ID)
}

// W3CRequest asks for one credential through the W3C VC-API: an IssueRequest plus the format
// the caller wants back. The credential is issued, and stored, in every format its type asks
// for, exactly as Issue does.
type W3CRequest struct {
	IssueRequest
	// Format is the format to return: FormatLDPVC, FormatVCJWT, FormatJWTVC or FormatSDJWTVC;
	// "" picks the first of those, in that order, that the type and claims allow.
	Format string
	// ValidFrom is the validFrom (or issuanceDate) the caller put in the credential; zero for
	// none. The issuer dates credentials itself, so it must lie within MaxValidFromSkew of the
	// issuer's clock.
	ValidFrom time.Time
}

// MaxValidFromSkew is how far a W3CRequest's ValidFrom may lie from the issuer's clock.
const MaxValidFromSkew = 5 * time.Minute

// IssueW3C issues a credential as Issue does and returns it with the raw credential in the
// format req asks for: the JSON-LD document for FormatLDPVC, the compact JWS for the JWT
// formats, the SD-JWT for FormatSDJWTVC. It checks everything before anything is stored.
// Errors: those of Issue, ErrInvalidRequest (unknown format, ValidFrom too far from now), and
// ErrFormatUnavailable (the type does not list the format, or ldp_vc with a claim our
// JSON-LD context does not define).
func (s *Service) IssueW3C(ctx context.Context, a Agency, req W3CRequest) (c Credential, raw string, created bool, err error) {
	t, err := s.AgencyType(ctx, a, req.Type)
	if err != nil {
		return Credential{}, "", false, err
	}
	if !contains(a.Types, t.Name) {
		return Credential{}, "", false, fmt.Errorf("%w: %s may not issue %s", ErrTypeNotAllowed, a.Name, t.Name)
	}
	if err := t.Validate(req.Claims); err != nil {
		return Credential{}, "", false, err
	}
	if !req.ValidFrom.IsZero() {
		if d := req.ValidFrom.Sub(s.now()); d > MaxValidFromSkew || d < -MaxValidFromSkew {
			return Credential{}, "", false, fmt.Errorf("%w: validFrom must be the time of issuance (within %s); the issuer dates credentials itself",
				ErrInvalidRequest, MaxValidFromSkew)
		}
	}
	format := req.Format
	switch format {
	case "":
		for _, f := range []string{FormatLDPVC, FormatVCJWT, FormatJWTVC, FormatSDJWTVC} {
			if formatAvailable(t, req.Claims, f) == nil {
				format = f
				break
			}
		}
	case FormatLDPVC, FormatVCJWT, FormatJWTVC, FormatSDJWTVC:
		if err := formatAvailable(t, req.Claims, format); err != nil {
			return Credential{}, "", false, err
		}
	default:
		return Credential{}, "", false, fmt.Errorf("%w: unknown format %q", ErrInvalidRequest, format)
	}
	c, created, err = s.Issue(ctx, a, req.IssueRequest)
	if err != nil {
		return Credential{}, "", false, err
	}
	if format == FormatSDJWTVC {
		return c, c.Raw, created, nil
	}
	raw = c.Formats[format]
	if raw == "" {
		return Credential{}, "", false, fmt.Errorf("credential %s: format %s was not produced", c.ID, format)
	}
	return c, raw, created, nil
}
