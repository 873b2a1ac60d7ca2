// Package verifier checks what citizens and services show: SD-JWT VC presentations with key
// binding (the counter QR), bare SD-JWT VCs, W3C VCDM 2.0 vc+jwt, VCDM 1.1 JWT-VC and VCDM 1.1
// JSON-LD credentials with Data Integrity proofs. One engine detects the format, runs the named
// checks (CheckNames) and reports every one, under a named policy, so a counter always learns
// which check failed and why. It works online (the DID ledger, fetched status lists) or offline
// (a trust bundle) through the same small interfaces: Trust, did.Resolver, StatusLists,
// Anchors and Source.
package verifier

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/issuer/credtype"
)

// The names of the checks, stable for clients, in the order they are reported.
const (
	CheckSyntax        = "syntax"
	CheckSignature     = "signature"
	CheckHolderBinding = "holder_binding"
	CheckValidity      = "validity"
	// CheckStatus is declared in status.go.
	CheckAccreditation = "accreditation"
	CheckAnchor        = "anchor"
	CheckSchema        = "schema"
	CheckPolicy        = "policy"
)

// CheckNames lists every check in the order a Result reports them.
var CheckNames = []string{CheckSyntax, CheckSignature, CheckHolderBinding, CheckValidity, CheckStatus,
	CheckAccreditation, CheckAnchor, CheckSchema, CheckPolicy}

// The formats Verify accepts, as Result.Format names them (the OpenID4VCI format identifiers).
const (
	FormatSDJWTVC = "dc+sd-jwt"   // IETF SD-JWT VC, with or without a key-binding JWT
	FormatVCJWT   = "vc+jwt"      // W3C VCDM 2.0 secured with JOSE
	FormatJWTVC   = "jwt_vc_json" // W3C VCDM 1.1 JWT-VC
	FormatLDPVC   = "ldp_vc"      // W3C VCDM 1.1 JSON-LD with an Ed25519Signature2020 proof
)

// Formats lists every format Verify accepts.
var Formats = []string{FormatSDJWTVC, FormatVCJWT, FormatJWTVC, FormatLDPVC}

// Errors of the verifier domain.
var (
	// ErrNotPresentation is returned for input that is in no format Verify knows (no checks
	// can run on it); anything that is one gets a Result instead.
	ErrNotPresentation = errors.New("not a presentation")
	ErrNotFound        = errors.New("not found")
	ErrInvalidRequest  = errors.New("invalid request")
	// ErrUnknownPolicy is returned when Options.Policy (or a counter's policy) names no policy.
	ErrUnknownPolicy = errors.New("unknown verification policy")
)

// Check is the outcome of one named check.
type Check struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Skipped: the check was not run, because a check it needs failed or because the evidence
	// it needs is not there and the policy allows doing without (Reason says which).
	Skipped bool   `json:"skipped,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Rules names the policy rules that failed (policy check only).
	Rules []string `json:"rules,omitempty"`
}

// Result is the answer to a verification.
type Result struct {
	Valid  bool    `json:"valid"`
	Checks []Check `json:"checks"`
	Format string  `json:"format"`
	Issuer string  `json:"issuer,omitempty"`
	// Type is the credential's type: the vct of an SD-JWT VC, the W3C type otherwise.
	Type string `json:"type,omitempty"`
	// Claims are the claims shown (an SD-JWT's disclosed and always-visible subject claims, a
	// W3C credential's credentialSubject without id), only when the signature holds.
	Claims  map[string]any `json:"claims,omitempty"`
	Counter string         `json:"counter,omitempty"`
	// Policy is the name of the policy applied.
	Policy string `json:"policy"`
	// Source says whether the verifier's trust data was online or a bundle (and its age).
	Source SourceInfo `json:"source"`
	// Warnings are findings that do not make the result invalid (a stale bundle the policy
	// only flags, say).
	Warnings []string `json:"warnings,omitempty"`
	// Digest is the hex SHA-256 of the issuer-signed credential (for an SD-JWT, its issuer
	// JWT): the same for every presentation of one credential, and no personal data.
	Digest     string    `json:"digest,omitempty"`
	VerifiedAt time.Time `json:"verified_at"`
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

// Check returns the named check and whether it was reported.
func (r Result) Check(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Counter is a service counter that scans QR codes.
type Counter struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Type     string   `json:"type"`     // the credential type (vct) it checks
	Disclose []string `json:"disclose"` // the claims it needs
	// Policy is the counter's default policy, used when a request names none; "" for
	// DefaultPolicy.
	Policy string `json:"policy,omitempty"`
}

// Trust is where the verifier learns which issuers are accredited: the DID ledger online, a
// trust bundle offline.
type Trust interface {
	// Accreditation returns the accreditation of issuer for vct in force at at, or an error
	// wrapping ledger.ErrNotAccredited. Other errors are faults.
	Accreditation(ctx context.Context, issuer, vct string, at time.Time) (ledger.Accreditation, error)
}

// Store is what the verifier needs from storage. Implementation: verifierstore. A Store that
// also implements Recorder keeps a verification record of every Result.
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
	// QRMaxAge is how old a key-binding JWT may be; 60 s when zero. A policy may set its own.
	QRMaxAge time.Duration
	// Skew is the clock difference tolerated between wallet, issuer and verifier; 30 s when zero.
	Skew time.Duration
	// StatusLists fetches the status lists credentials point at; when nil, a credential with
	// a status entry fails the status check.
	StatusLists StatusLists
	// Anchors finds anchor receipts by credential digest; nil when receipts come only with
	// the request (Options.Receipt).
	Anchors Anchors
	// LedgerKeys verify the ledger's signed checkpoints in anchor receipts; without them the
	// anchor check cannot run.
	LedgerKeys note.Verifiers
	// Source describes the trust data (online or a bundle); nil means online.
	Source Source
	// Policies are the named verification policies; BuiltinPolicies() when nil.
	Policies *Policies
	// Types are the credential types whose JSON Schemas the schema check applies;
	// credtype.Builtin() when nil.
	Types *credtype.Registry
}

// Service verifies presentations and credentials. It is safe for concurrent use.
type Service struct {
	store    Store
	trust    Trust
	resolver did.Resolver
	log      *slog.Logger
	now      func() time.Time
	maxAge   time.Duration
	skew     time.Duration

	statusLists StatusLists
	lists       listCache
	anchors     Anchors
	ledgerKeys  note.Verifiers
	source      Source
	policies    *Policies
	types       *credtype.Registry

	counters  memo[string, Counter]  // by id; cleared when the service saves a counter
	receipts  memo[[32]byte, []byte] // anchor receipts by digest: a receipt never changes
	anchorsOK memo[[32]byte, string] // receipts that verified (anchorKey) and the check's note
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
	if cfg.Policies == nil {
		cfg.Policies = BuiltinPolicies()
	}
	if cfg.Types == nil {
		cfg.Types = credtype.Builtin()
	}
	return &Service{store: cfg.Store, trust: cfg.Trust, resolver: cfg.Resolver, log: cfg.Logger, now: cfg.Now, maxAge: cfg.QRMaxAge, skew: cfg.Skew,
		statusLists: cfg.StatusLists, anchors: cfg.Anchors, ledgerKeys: cacheNoteVerifiers(cfg.LedgerKeys), source: cfg.Source,
		policies: cfg.Policies, types: cfg.Types}, nil
}

// SaveCounter registers or updates a counter. Its policy, if any, must exist.
func (s *Service) SaveCounter(ctx context.Context, c Counter) error {
	if c.Policy != "" {
		if _, err := s.policies.Lookup(c.Policy); err != nil {
			return fmt.Errorf("%w: counter %q: %w", ErrInvalidRequest, c.Name, err)
		}
	}
	defer s.counters.clear()
	return s.store.SaveCounter(ctx, c)
}

// CounterByName returns the counter called name, or ErrNotFound.
func (s *Service) CounterByName(ctx context.Context, name string) (Counter, error) {
	return s.store.CounterByName(ctx, name)
}

// Policies returns the policies the service applies.
func (s *Service) Policies() *Policies { return s.policies }

// Options tunes one verification.
type Options struct {
	// Counter, when set, is the id of the scanning counter: the presentation's audience must
	// be that counter (or the wallet's generic counter audience), and the counter's policy
	// applies when Policy is "".
	Counter string
	// Policy names the policy to apply; "" for the counter's, else DefaultPolicy.
	Policy string
	// Audience, when set, is the only audience a key-binding JWT may name (an OpenID4VP
	// client_id, a VC-API domain), instead of the counter and the generic counter audience.
	Audience string
	// Nonce, when set, is the nonce the key-binding JWT must carry (a challenge the verifier
	// issued); "" accepts any nonce, as a counter that cannot send one must.
	Nonce string
	// Receipt is an anchor receipt (JSON) presented with the credential; without one the
	// anchor check asks Config.Anchors.
	Receipt []byte
	// NoRecord: keep no verification record (for callers that record elsewhere).
	NoRecord bool
}

// GenericAudience is the audience a wallet uses for a QR made for no particular counter.
const GenericAudience = "urn:ezheng:counter"

// Verify detects the format of text (an SD-JWT VC presentation or credential, a vc+jwt, a
// JWT-VC or a JSON-LD credential), runs every check under the policy opts select and reports
// each. It returns ErrNotPresentation for input in no known format, ErrNotFound for an
// unknown counter, ErrUnknownPolicy for an unknown policy, and an error for faults (storage,
// a broken ledger); a credential that fails a check is a Result with Valid false. When the
// Store is a Recorder, every Result is recorded (without claims) before it is returned.
func (s *Service) Verify(ctx context.Context, text string, opts Options) (Result, error) {
	now := s.now().UTC()
	text = strings.TrimSpace(text)
	text, format, err := detectFormat(text) // a compact QR (compact.go) is expanded first
	if err != nil {
		return Result{}, err
	}
	pol, audiences, err := s.setup(ctx, opts)
	if err != nil {
		return Result{}, err
	}
	if opts.Audience != "" {
		audiences = []string{opts.Audience}
	}
	src := s.sourceInfo(ctx, now)
	res := Result{Format: format, Counter: opts.Counter, Policy: pol.Name, Source: src, VerifiedAt: now.Truncate(time.Second)}
	r := run{s: s, res: &res, pol: pol, now: now, offline: src.Mode == SourceOffline, audiences: audiences, nonce: opts.Nonce, receipt: opts.Receipt}

	var p *presented
	switch format {
	case FormatSDJWTVC:
		p, err = r.sdJWT(ctx, text)
	case FormatVCJWT, FormatJWTVC:
		p, err = r.jwtVC(ctx, text)
	case FormatLDPVC:
		p, err = r.ldpVC(ctx, text)
	}
	if err != nil {
		return Result{}, err
	}
	if err := r.common(ctx, p); err != nil {
		return Result{}, err
	}
	if err := s.record(ctx, res, opts); err != nil {
		return Result{}, err
	}
	s.log.DebugContext(ctx, "verified", "valid", res.Valid, "failed", res.Failed(), "format", res.Format, "type", res.Type, "policy", res.Policy)
	return res, nil
}

// setup finds the policy and the audiences a key-binding JWT may name.
func (s *Service) setup(ctx context.Context, opts Options) (*Policy, []string, error) {
	audiences := []string{GenericAudience}
	name := opts.Policy
	if opts.Counter != "" {
		c, ok := s.counters.get(opts.Counter)
		if !ok {
			var err error
			if c, err = s.store.Counter(ctx, opts.Counter); err != nil {
				return nil, nil, fmt.Errorf("counter %q: %w", opts.Counter, err)
			}
			s.counters.put(opts.Counter, c)
		}
		audiences = append(audiences, opts.Counter)
		if name == "" {
			name = c.Policy
		}
	}
	if name == "" {
		name = DefaultPolicy
	}
	pol, err := s.policies.Lookup(name)
	if err != nil {
		return nil, nil, err
	}
	return pol, audiences, nil
}

// presented is what every format yields for the checks after validity: who issued what,
// when, with which claims, and how to find its anchor and status.
type presented struct {
	issuer    string
	vct       string // the type accreditations name (an SD-JWT VC vct)
	typeName  string // the credential type's name (credtype), "" if unknown
	issuedAt  time.Time
	claims    map[string]any // the claims to check against the schema (what was disclosed)
	partial   bool           // some claims were withheld (selective disclosure)
	status    any            // an IETF status claim (SD-JWT VC), or nil
	w3cStatus []any          // W3C credentialStatus entries, or nil
	anchored  [][]byte       // byte forms the issuer may have anchored, most likely first
}

// run is the state of one verification.
type run struct {
	s         *Service
	res       *Result
	pol       *Policy
	now       time.Time
	offline   bool
	audiences []string
	nonce     string
	receipt   []byte
}

func (r *run) pass(name string) { r.res.Checks = append(r.res.Checks, Check{Name: name, OK: true}) }
func (r *run) note(name, note string) {
	r.res.Checks = append(r.res.Checks, Check{Name: name, OK: true, Reason: note})
}
func (r *run) fail(name, reason string) {
	r.res.Checks = append(r.res.Checks, Check{Name: name, Reason: reason})
}

// skip reports name as not run because the check it needs did not pass.
func (r *run) skip(name, needs string) {
	r.res.Checks = append(r.res.Checks, Check{Name: name, Skipped: true, Reason: "not run: " + needs + " failed"})
}

// unavailable reports a check whose evidence is missing: skipped when the policy lets it be
// skipped, failed otherwise.
func (r *run) unavailable(name, reason string) {
	if r.pol.maySkip(name, r.offline) {
		r.res.Checks = append(r.res.Checks, Check{Name: name, Skipped: true, Reason: reason})
		return
	}
	r.fail(name, reason+" (policy "+r.pol.Name+" requires this check)")
}

func (r *run) ok(name string) bool {
	c, _ := r.res.Check(name)
	return c.OK
}

// common runs the checks every format shares after validity: status, accreditation, anchor,
// schema and policy, then settles Valid. p is nil when the signature did not hold.
func (r *run) common(ctx context.Context, p *presented) error {
	signed := r.ok(CheckSignature)
	if signed {
		if err := r.statusCheck(ctx, p); err != nil {
			return err
		}
		if err := r.accreditation(ctx, p); err != nil {
			return err
		}
		if err := r.anchor(ctx, p); err != nil {
			return err
		}
		r.schema(p)
		r.policy(p)
	} else {
		needs := CheckSignature
		if !r.ok(CheckSyntax) {
			needs = CheckSyntax
		}
		for _, n := range []string{CheckStatus, CheckAccreditation, CheckAnchor, CheckSchema, CheckPolicy} {
			r.skip(n, needs)
		}
	}
	valid := len(r.res.Failed()) == 0
	for _, c := range r.res.Checks {
		if c.Skipped && !r.pol.maySkip(c.Name, r.offline) {
			valid = false
		}
	}
	r.res.Valid = valid
	return nil
}

func (r *run) accreditation(ctx context.Context, p *presented) error {
	at := p.issuedAt
	if at.IsZero() {
		at = r.now
	}
	_, err := r.s.trust.Accreditation(ctx, p.issuer, p.vct, at)
	switch {
	case errors.Is(err, ledger.ErrNotAccredited):
		r.fail(CheckAccreditation, fmt.Sprintf("issuer %s is not accredited for %s at %s", p.issuer, p.vct, at.Format(time.RFC3339)))
	case err != nil:
		return err
	default:
		r.pass(CheckAccreditation)
	}
	return nil
}

// digest returns the hex SHA-256 of b.
func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// verificationFailure marks an error as a failed check rather than a fault.
type verificationFailure struct{ error }

func (v verificationFailure) Unwrap() error { return v.error }

func isVerificationFailure(err error) bool {
	var v verificationFailure
	return errors.As(err, &v)
}
