// Package verifier checks what citizens show: SD-JWT VC presentations with key binding, as
// scanned from a counter QR. It runs named checks and reports every one, so a counter always
// learns which check failed and why.
package verifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/internal/sdjwt"
)

// The names of the checks, stable for clients.
const (
	CheckSyntax        = "syntax"
	CheckSignature     = "signature"
	CheckHolderBinding = "holder_binding"
	CheckValidity      = "validity"
	CheckAccreditation = "accreditation"
)

// Errors of the verifier domain.
var (
	// ErrNotPresentation is returned for input that is not a presentation at all (no checks
	// can run on it); anything that is one gets a Result instead.
	ErrNotPresentation = errors.New("not a presentation")
	ErrNotFound        = errors.New("not found")
	ErrInvalidRequest  = errors.New("invalid request")
)

// Check is the outcome of one named check.
type Check struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"` // not run because an earlier check it needs failed
	Reason  string `json:"reason,omitempty"`
}

// Result is the answer to a verification.
type Result struct {
	Valid      bool           `json:"valid"`
	Checks     []Check        `json:"checks"`
	Format     string         `json:"format"`
	Issuer     string         `json:"issuer,omitempty"`
	Type       string         `json:"type,omitempty"`
	Claims     map[string]any `json:"claims,omitempty"` // disclosed claims, only when the signature holds
	Counter    string         `json:"counter,omitempty"`
	VerifiedAt time.Time      `json:"verified_at"`
}

// Failed returns the names of the checks that failed (not skipped).
func (r Result) Failed() []string {
	var f []string
	for _, c := range r.Checks {
		if !c.OK && !c.Skipped {
			f = append(f, c.Name)
		}
	}
	return f
}

// Counter is a service counter that scans QR codes.
type Counter struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Type     string   `json:"type"`     // the credential type (vct) it checks
	Disclose []string `json:"disclose"` // the claims it needs
}

// Trust is where the verifier learns which issuers are accredited: the DID ledger.
type Trust interface {
	// Accreditation returns the accreditation of issuer for vct in force at at, or an error
	// wrapping ledger.ErrNotAccredited. Other errors are faults.
	Accreditation(ctx context.Context, issuer, vct string, at time.Time) (ledger.Accreditation, error)
}

// Store is what the verifier needs from storage. Implementation: verifierstore.
type Store interface {
	SaveCounter(ctx context.Context, c Counter) error
	// Counter returns ErrNotFound for an unknown id.
	Counter(ctx context.Context, id string) (Counter, error)
	// CounterByName returns ErrNotFound for an unknown name.
	CounterByName(ctx context.Context, name string) (Counter, error)
}

// Config configures the verifier service.
type Config struct {
	Store    Store
	Trust    Trust
	Resolver did.Resolver
	Logger   *slog.Logger
	Now      func() time.Time
	// QRMaxAge is how old a key-binding JWT may be; 60 s when zero.
	QRMaxAge time.Duration
	// Skew is the clock difference tolerated between wallet, issuer and verifier; 30 s when zero.
	Skew time.Duration
	// StatusLists fetches the status lists credentials point at; when nil, a credential with
	// a status claim fails the status check.
	StatusLists StatusLists
}

// Service verifies presentations. It is safe for concurrent use.
type Service struct {
	store    Store
	trust    Trust
	resolver did.Resolver
	log      *slog.Logger
	now      func() time.Time
	maxAge   time.Duration
	skew     time.Duration

	statusLists StatusLists
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Resolver == nil || cfg.Trust == nil {
		return nil, errors.New("verifier: Store, Trust and Resolver are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.QRMaxAge == 0 {
		cfg.QRMaxAge = 60 * time.Second
	}
	if cfg.Skew == 0 {
		cfg.Skew = 30 * time.Second
	}
	return &Service{store: cfg.Store, trust: cfg.Trust, resolver: cfg.Resolver, log: cfg.Logger, now: cfg.Now, maxAge: cfg.QRMaxAge, skew: cfg.Skew,
		statusLists: cfg.StatusLists}, nil
}

// SaveCounter registers or updates a counter.
func (s *Service) SaveCounter(ctx context.Context, c Counter) error {
	return s.store.SaveCounter(ctx, c)
}

// CounterByName returns the counter called name, or ErrNotFound.
func (s *Service) CounterByName(ctx context.Context, name string) (Counter, error) {
	return s.store.CounterByName(ctx, name)
}

// Options tunes one verification.
type Options struct {
	// Counter, when set, is the id of the scanning counter: the presentation's audience must
	// be that counter (or the wallet's generic counter audience).
	Counter string
}

// GenericAudience is the audience a wallet uses for a QR made for no particular counter.
const GenericAudience = "urn:ezheng:counter"

// Verify checks a presentation and reports every check. It returns ErrNotPresentation for
// input that is not an SD-JWT at all, ErrNotFound for an unknown counter, and an error for
// faults (storage); a presentation that fails a check is a Result with Valid false.
func (s *Service) Verify(ctx context.Context, text string, opts Options) (Result, error) {
	now := s.now().UTC()
	text = strings.TrimSpace(text)
	sd, err := sdjwt.Parse(text)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrNotPresentation, err)
	}
	res := Result{Format: "dc+sd-jwt", Counter: opts.Counter, VerifiedAt: now.Truncate(time.Second)}
	audiences := []string{GenericAudience}
	if opts.Counter != "" {
		if _, err := s.store.Counter(ctx, opts.Counter); err != nil {
			return Result{}, fmt.Errorf("counter %q: %w", opts.Counter, err)
		}
		audiences = append(audiences, opts.Counter)
	}

	c := checker{res: &res}
	// syntax: the claims an SD-JWT VC must have.
	iss, _ := sd.Payload["iss"].(string)
	vct, _ := sd.Payload["vct"].(string)
	kid, _ := sd.Header["kid"].(string)
	typ, _ := sd.Header["typ"].(string)
	res.Issuer, res.Type = iss, vct
	switch {
	case typ != "dc+sd-jwt" && typ != "vc+sd-jwt":
		c.fail(CheckSyntax, fmt.Sprintf("typ %q is not dc+sd-jwt", typ))
	case iss == "" || vct == "":
		c.fail(CheckSyntax, "iss and vct are required")
	case kid == "":
		c.fail(CheckSyntax, "the issuer JWT has no kid")
	default:
		c.pass(CheckSyntax)
	}

	// signature: the issuer's key for assertions, as its DID document lists it.
	var claims map[string]any
	if c.ok(CheckSyntax) {
		claims, err = s.verifyIssuer(ctx, sd, iss, kid)
		if err != nil {
			if !isVerificationFailure(err) {
				return Result{}, err
			}
			c.fail(CheckSignature, err.Error())
		} else {
			c.pass(CheckSignature)
		}
	} else {
		c.skip(CheckSignature, CheckSyntax)
	}

	// holder_binding: the KB-JWT, signed by the key in cnf, fresh, for this audience.
	if c.ok(CheckSignature) {
		if err := s.verifyHolder(sd, claims, audiences, now); err != nil {
			c.fail(CheckHolderBinding, err.Error())
		} else {
			c.pass(CheckHolderBinding)
		}
	} else {
		c.skip(CheckHolderBinding, CheckSignature)
	}

	// validity: the credential's own iat/nbf/exp.
	if c.ok(CheckSignature) {
		if reason := s.validity(claims, now); reason != "" {
			c.fail(CheckValidity, reason)
		} else {
			c.pass(CheckValidity)
		}
	} else {
		c.skip(CheckValidity, CheckSignature)
	}

	// status: the issuer's status list, fetched now, says the credential is neither revoked
	// nor suspended.
	if c.ok(CheckSignature) {
		reason, note, err := s.statusCheck(ctx, claims, iss, now)
		switch {
		case err != nil:
			return Result{}, err
		case reason != "":
			c.fail(CheckStatus, reason)
		default:
			c.res.Checks = append(c.res.Checks, Check{Name: CheckStatus, OK: true, Reason: note})
		}
	} else {
		c.skip(CheckStatus, CheckSignature)
	}

	// accreditation: the issuer may issue this type, at the time it issued.
	if c.ok(CheckSignature) {
		at := now
		if iat, ok, err := sdjwt.ClaimTime(claims, "iat"); ok && err == nil {
			at = iat
		}
		_, err := s.trust.Accreditation(ctx, iss, vct, at)
		switch {
		case errors.Is(err, ledger.ErrNotAccredited):
			c.fail(CheckAccreditation, fmt.Sprintf("issuer %s is not accredited for %s at %s", iss, vct, at.Format(time.RFC3339)))
		case err != nil:
			return Result{}, err
		default:
			c.pass(CheckAccreditation)
		}
	} else {
		c.skip(CheckAccreditation, CheckSignature)
	}

	if c.ok(CheckSignature) {
		res.Claims = disclosed(sd, claims)
	}
	res.Valid = len(res.Failed()) == 0 && !c.anySkipped()
	s.log.DebugContext(ctx, "verified", "valid", res.Valid, "failed", res.Failed(), "type", vct)
	return res, nil
}

func (s *Service) verifyIssuer(ctx context.Context, sd *sdjwt.SDJWT, iss, kid string) (map[string]any, error) {
	kidDID, _, err := did.SplitURL(kid)
	if err != nil {
		return nil, verificationFailure{fmt.Errorf("kid %q: %v", kid, err)}
	}
	if kidDID.String() != iss {
		return nil, verificationFailure{fmt.Errorf("kid %q is not a key of issuer %s", kid, iss)}
	}
	key, err := s.issuerKey(ctx, kidDID, kid, sd.Payload)
	if err != nil {
		if did.IsUnresolvable(err) {
			return nil, verificationFailure{fmt.Errorf("issuer key: %v", err)}
		}
		return nil, err
	}
	claims, err := sd.VerifyIssuer(key)
	if err != nil {
		return nil, verificationFailure{err}
	}
	return claims, nil
}

// issuerKey returns the assertion key kid names as the issuer's DID document listed it when
// the credential was issued: the version in force at its iat (read before the signature is
// checked; the signature then covers it). At second precision both the version before and the
// one after an update are in force during the update's second. A DID deactivated since has no
// keys. Methods without versions (did:key, did:jwk) and credentials without a well-formed iat
// use the current document (the validity check reports a malformed iat). Errors are those of
// did.ResolveKey; a key not listed at iat wraps did.ErrKeyNotFound.
func (s *Service) issuerKey(ctx context.Context, d did.DID, kid string, payload map[string]any) (*jose.JSONWebKey, error) {
	vr := versions(s.resolver, d)
	iat, present, err := sdjwt.ClaimTime(payload, "iat")
	if vr == nil || !present || err != nil {
		return did.ResolveKey(ctx, s.resolver, kid, did.AssertionMethod)
	}
	if _, md, err := vr.ResolveVersion(ctx, d.String(), did.Query{}); err != nil {
		return nil, err
	} else if md.Deactivated {
		return nil, fmt.Errorf("%w: %s is deactivated", did.ErrKeyNotFound, d)
	}
	at := iat.Truncate(time.Second)
	notListed := fmt.Errorf("%w: kid %s was not an assertion key of the issuer at %s (issuance time)", did.ErrKeyNotFound, kid, at.Format(time.RFC3339))
	doc, md, err := vr.ResolveVersion(ctx, d.String(), did.Query{VersionTime: at})
	if errors.Is(err, did.ErrNotFound) {
		return nil, notListed
	}
	if err != nil {
		return nil, err
	}
	key, err := doc.Key(kid, did.AssertionMethod)
	if errors.Is(err, did.ErrKeyNotFound) && md.Updated != nil && md.Updated.Truncate(time.Second).Equal(at) {
		// Updated during the iat's second: the version before was in force too.
		if doc, _, err2 := vr.ResolveVersion(ctx, d.String(), did.Query{VersionTime: at.Add(-time.Second)}); err2 == nil {
			key, err = doc.Key(kid, did.AssertionMethod)
		}
	}
	if errors.Is(err, did.ErrKeyNotFound) {
		return nil, notListed
	}
	return key, err
}

// versions returns r's ability to resolve past versions of d's method, or nil.
func versions(r did.Resolver, d did.DID) did.VersionResolver {
	if m, ok := r.(did.Methods); ok {
		if r, ok = m[d.Method]; !ok {
			return nil
		}
	}
	vr, _ := r.(did.VersionResolver)
	return vr
}

func (s *Service) verifyHolder(sd *sdjwt.SDJWT, claims map[string]any, audiences []string, now time.Time) error {
	hk, err := sdjwt.HolderKey(claims)
	if err != nil {
		return err
	}
	if sd.KeyBinding == "" {
		return errors.New("no key-binding JWT: the holder did not prove possession of the key")
	}
	var last error
	for _, aud := range audiences {
		last = sd.VerifyKeyBinding(hk, sdjwt.KeyBindingOptions{Audience: aud, Now: now, MaxAge: s.maxAge, Skew: s.skew})
		if last == nil {
			return nil
		}
	}
	return last
}

func (s *Service) validity(claims map[string]any, now time.Time) string {
	var at [3]time.Time
	for i, name := range []string{"exp", "nbf", "iat"} {
		t, _, err := sdjwt.ClaimTime(claims, name)
		if err != nil {
			return "malformed " + name + ": " + err.Error()
		}
		at[i] = t
	}
	exp, nbf, iat := at[0], at[1], at[2]
	switch {
	case !exp.IsZero() && !now.Before(exp.Add(s.skew)):
		return "credential expired at " + exp.Format(time.RFC3339)
	case !nbf.IsZero() && now.Add(s.skew).Before(nbf):
		return "credential not valid before " + nbf.Format(time.RFC3339)
	case !iat.IsZero() && now.Add(s.skew).Before(iat):
		return "credential issued in the future (" + iat.Format(time.RFC3339) + ")"
	}
	return ""
}

// disclosed returns the claims the holder disclosed.
func disclosed(sd *sdjwt.SDJWT, claims map[string]any) map[string]any {
	out := map[string]any{}
	for _, d := range sd.Disclosures {
		if v, ok := claims[d.Name]; ok {
			out[d.Name] = v
		}
	}
	return out
}

// verificationFailure marks an error as a failed check rather than a fault.
type verificationFailure struct{ error }

func (v verificationFailure) Unwrap() error { return v.error }

func isVerificationFailure(err error) bool {
	var v verificationFailure
	return errors.As(err, &v)
}

type checker struct {
	res *Result
}

func (c checker) pass(name string) { c.res.Checks = append(c.res.Checks, Check{Name: name, OK: true}) }
func (c checker) fail(name, reason string) {
	c.res.Checks = append(c.res.Checks, Check{Name: name, Reason: reason})
}
func (c checker) skip(name, needs string) {
	c.res.Checks = append(c.res.Checks, Check{Name: name, Skipped: true, Reason: "not run: " + needs + " failed"})
}
func (c checker) ok(name string) bool {
	for _, ch := range c.res.Checks {
		if ch.Name == name {
			return ch.OK
		}
	}
	return false
}
func (c checker) anySkipped() bool {
	for _, ch := range c.res.Checks {
		if ch.Skipped {
			return true
		}
	}
	return false
}
