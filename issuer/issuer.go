// Package issuer is the agencies' side of ezheng: agencies (tenants) with their own DID and
// signing key, credential types, and issuance of SD-JWT VCs bound to a citizen's holder key.
package issuer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/sdjwt"
)

// Errors of the issuer domain. The HTTP layer maps them to problem types.
var (
	ErrUnauthorized        = fmt.Errorf("%w: unknown or missing agency token", problem.ErrUnauthorized)
	ErrTypeNotAllowed      = errors.New("agency may not issue this credential type")
	ErrUnknownType         = errors.New("unknown credential type")
	ErrInvalidClaims       = errors.New("claims do not fit the credential type")
	ErrInvalidHolder       = errors.New("holder DID has no usable key")
	ErrIdempotencyConflict = errors.New("idempotency key reused with a different request")
	ErrNotFound            = errors.New("not found")
	ErrInvalidRequest      = errors.New("invalid issuance request")
)

// ClaimError says which claim is wrong and why. It matches ErrInvalidClaims with errors.Is.
type ClaimError struct {
	Claim  string
	Reason string
}

func (e *ClaimError) Error() string        { return fmt.Sprintf("claim %q: %s", e.Claim, e.Reason) }
func (e *ClaimError) Is(target error) bool { return target == ErrInvalidClaims }

// Agency is an issuing authority (a tenant of the issuer).
type Agency struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	DID       string    `json:"did"`
	KID       string    `json:"kid"`
	Types     []string  `json:"types"`
	CreatedAt time.Time `json:"created_at"`
}

// Credential is an issued credential as the issuer keeps it.
type Credential struct {
	ID        string    `json:"id"`
	AgencyID  string    `json:"agency_id"`
	Type      string    `json:"type"`
	Format    string    `json:"format"`
	Holder    string    `json:"holder"`
	Raw       string    `json:"credential"`
	Digest    string    `json:"digest"` // hex SHA-256 of Raw
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// FormatSDJWTVC is the media type suffix and typ of an IETF SD-JWT VC.
const FormatSDJWTVC = "dc+sd-jwt"

// IssueRequest asks for one credential.
type IssueRequest struct {
	Type           string         // credential type name
	Holder         string         // holder DID; its authentication key goes into cnf.jwk
	Claims         map[string]any // the type's claims
	IdempotencyKey string         // client-chosen key: the same key returns the same credential
}

// Store is what the issuer needs from storage. Implementations: issuerstore.
type Store interface {
	// CreateAgency saves a new agency with its sealed signing key.
	CreateAgency(ctx context.Context, a Agency, sealedKey []byte) error
	// AgencyByName returns ErrNotFound if there is none.
	AgencyByName(ctx context.Context, name string) (Agency, error)
	// AddToken stores the hash of a new API token for the agency.
	AddToken(ctx context.Context, agencyID string, tokenHash []byte, at time.Time) error
	// AgencyByToken returns the agency owning the token hash, or ErrNotFound.
	AgencyByToken(ctx context.Context, tokenHash []byte) (Agency, error)
	// SigningKey returns the agency's sealed key.
	SigningKey(ctx context.Context, agencyID string) ([]byte, error)
	// SaveCredential stores c, its raw form sealed, its idempotency key ("" for none) and
	// request hash. If the agency already used the key it stores nothing and returns
	// ErrIdempotencyConflict.
	SaveCredential(ctx context.Context, c Credential, sealedRaw []byte, idemKey string, reqHash []byte) error
	// CredentialByIdempotencyKey returns the credential stored under the key, its sealed raw
	// form and request hash, or ErrNotFound.
	CredentialByIdempotencyKey(ctx context.Context, agencyID, key string) (Credential, []byte, []byte, error)
	// Credential returns one credential of the agency (sealed raw form), or ErrNotFound.
	Credential(ctx context.Context, agencyID, id string) (Credential, []byte, error)
}

// Config configures the issuer service.
type Config struct {
	Store    Store
	Sealer   *keys.Sealer
	Resolver did.Resolver
	Logger   *slog.Logger
	Now      func() time.Time // injected clock; time.Now when nil
}

// Service issues credentials. It is safe for concurrent use.
type Service struct {
	store    Store
	sealer   *keys.Sealer
	resolver did.Resolver
	log      *slog.Logger
	now      func() time.Time
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.Resolver == nil {
		return nil, errors.New("issuer: Store, Sealer and Resolver are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: cfg.Store, sealer: cfg.Sealer, resolver: cfg.Resolver, log: cfg.Logger, now: cfg.Now}, nil
}

// CreateAgency makes a new agency allowed to issue types, with a fresh Ed25519 key and its
// did:key. It returns ErrUnknownType for an unknown type.
func (s *Service) CreateAgency(ctx context.Context, name string, types []string) (Agency, error) {
	if strings.TrimSpace(name) == "" {
		return Agency{}, fmt.Errorf("%w: agency name is empty", ErrInvalidRequest)
	}
	for _, t := range types {
		if _, err := LookupType(t); err != nil {
			return Agency{}, err
		}
	}
	k, err := keys.Generate(keys.EdDSA, nil)
	if err != nil {
		return Agency{}, err
	}
	d, kid, err := did.NewKey(k.Public())
	if err != nil {
		return Agency{}, err
	}
	a := Agency{ID: newID("ag"), Name: name, DID: d, KID: kid, Types: types, CreatedAt: s.now().UTC().Truncate(time.Second)}
	sealed, err := s.sealer.SealKey(k, []byte(a.ID))
	if err != nil {
		return Agency{}, err
	}
	if err := s.store.CreateAgency(ctx, a, sealed); err != nil {
		return Agency{}, fmt.Errorf("create agency: %w", err)
	}
	s.log.InfoContext(ctx, "agency created", "agency", a.ID, "did", a.DID)
	return a, nil
}

// AgencyByName returns the agency called name, or ErrNotFound.
func (s *Service) AgencyByName(ctx context.Context, name string) (Agency, error) {
	return s.store.AgencyByName(ctx, name)
}

// NewToken mints an API token for the agency. Only its hash is stored; the caller must hand
// the token to the agency and keep no copy in logs.
func (s *Service) NewToken(ctx context.Context, agencyID string) (string, error) {
	tok := "ezt_" + randomString(32)
	if err := s.store.AddToken(ctx, agencyID, hashToken(tok), s.now().UTC()); err != nil {
		return "", fmt.Errorf("add token: %w", err)
	}
	return tok, nil
}

// Authenticate returns the agency owning token, or ErrUnauthorized.
func (s *Service) Authenticate(ctx context.Context, token string) (Agency, error) {
	if token == "" || len(token) > 256 {
		return Agency{}, ErrUnauthorized
	}
	a, err := s.store.AgencyByToken(ctx, hashToken(token))
	if errors.Is(err, ErrNotFound) {
		return Agency{}, ErrUnauthorized
	}
	return a, err
}

// Issue signs a credential of req.Type for req.Holder as agency a and stores it. With an
// idempotency key it returns the credential issued earlier for the same key and request
// (created=false), or ErrIdempotencyConflict if the request differs. Other errors:
// ErrUnknownType, ErrTypeNotAllowed, ErrInvalidClaims (a *ClaimError), ErrInvalidHolder,
// ErrInvalidRequest. Nothing is stored when it fails.
func (s *Service) Issue(ctx context.Context, a Agency, req IssueRequest) (c Credential, created bool, err error) {
	t, err := LookupType(req.Type)
	if err != nil {
		return Credential{}, false, err
	}
	if !contains(a.Types, t.Name) {
		return Credential{}, false, fmt.Errorf("%w: %s may not issue %s", ErrTypeNotAllowed, a.Name, t.Name)
	}
	if len(req.IdempotencyKey) > 255 {
		return Credential{}, false, fmt.Errorf("%w: idempotency key longer than 255 bytes", ErrInvalidRequest)
	}
	if err := t.validateClaims(req.Claims); err != nil {
		return Credential{}, false, err
	}
	reqHash, err := requestHash(req)
	if err != nil {
		return Credential{}, false, err
	}
	if req.IdempotencyKey != "" {
		prev, sealed, prevHash, err := s.store.CredentialByIdempotencyKey(ctx, a.ID, req.IdempotencyKey)
		switch {
		case err == nil:
			if string(prevHash) != string(reqHash) {
				return Credential{}, false, ErrIdempotencyConflict
			}
			prev.Raw, err = s.openRaw(prev.ID, sealed)
			return prev, false, err
		case !errors.Is(err, ErrNotFound):
			return Credential{}, false, err
		}
	}
	holderKey, err := did.ResolveKey(ctx, s.resolver, holderKID(req.Holder), did.Authentication)
	if err != nil {
		if errors.Is(err, did.ErrInvalidDID) || errors.Is(err, did.ErrMethodNotSupported) || errors.Is(err, did.ErrNotFound) || errors.Is(err, did.ErrKeyNotFound) {
			return Credential{}, false, fmt.Errorf("%w: %v", ErrInvalidHolder, err)
		}
		return Credential{}, false, err
	}
	sealedKey, err := s.store.SigningKey(ctx, a.ID)
	if err != nil {
		return Credential{}, false, err
	}
	key, err := s.sealer.OpenKey(sealedKey, []byte(a.ID))
	if err != nil {
		return Credential{}, false, fmt.Errorf("open agency key: %w", err)
	}
	now := s.now().UTC().Truncate(time.Second)
	c = Credential{
		ID: newID("cred"), AgencyID: a.ID, Type: t.Name, Format: FormatSDJWTVC, Holder: req.Holder,
		IssuedAt: now, ExpiresAt: now.Add(t.Validity),
	}
	payload := map[string]any{
		"iss": a.DID,
		"vct": t.VCT,
		"iat": now.Unix(),
		"exp": c.ExpiresAt.Unix(),
		"cnf": map[string]any{"jwk": holderKey.Public()},
	}
	for k, v := range req.Claims {
		payload[k] = v
	}
	var disclose []string
	for _, n := range t.Disclosable {
		if _, ok := req.Claims[n]; ok {
			disclose = append(disclose, n)
		}
	}
	signer, err := sdjwt.NewSigner(key.Signer(), FormatSDJWTVC, a.KID)
	if err != nil {
		return Credential{}, false, err
	}
	raw, err := sdjwt.Issue(signer, payload, disclose, 0, rand.Reader)
	if err != nil {
		return Credential{}, false, fmt.Errorf("sign: %w", err)
	}
	c.Raw = raw
	sum := sha256.Sum256([]byte(raw))
	c.Digest = hex.EncodeToString(sum[:])
	if err := s.store.SaveCredential(ctx, c, s.sealer.Seal([]byte(raw), []byte(c.ID)), req.IdempotencyKey, reqHash); err != nil {
		if errors.Is(err, ErrIdempotencyConflict) { // a concurrent request with the same key won
			return s.Issue(ctx, a, req)
		}
		return Credential{}, false, fmt.Errorf("save credential: %w", err)
	}
	s.log.InfoContext(ctx, "credential issued", "agency", a.ID, "credential", c.ID, "type", c.Type)
	return c, true, nil
}

// Credential returns credential id issued by agency a, or ErrNotFound.
func (s *Service) Credential(ctx context.Context, a Agency, id string) (Credential, error) {
	c, sealed, err := s.store.Credential(ctx, a.ID, id)
	if err != nil {
		return Credential{}, err
	}
	c.Raw, err = s.openRaw(c.ID, sealed)
	return c, err
}

func (s *Service) openRaw(id string, sealed []byte) (string, error) {
	b, err := s.sealer.Open(sealed, []byte(id))
	if err != nil {
		return "", fmt.Errorf("open credential %s: %w", id, err)
	}
	return string(b), nil
}

// holderKID turns a holder DID into the DID URL of its key: did:jwk keys are "#0"; did:key
// keys repeat the method-specific id.
func holderKID(holder string) string {
	d, err := did.Parse(holder)
	if err != nil {
		return holder
	}
	switch d.Method {
	case "jwk":
		return holder + "#0"
	case "key":
		return holder + "#" + d.ID
	}
	return holder
}

// requestHash is a stable hash of what the request asks for, to tell a retry from a reuse.
func requestHash(req IssueRequest) ([]byte, error) {
	b, err := json.Marshal(struct {
		Type   string         `json:"type"`
		Holder string         `json:"holder"`
		Claims map[string]any `json:"claims"`
	}{req.Type, req.Holder, req.Claims}) // encoding/json sorts map keys
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

func hashToken(tok string) []byte {
	sum := sha256.Sum256([]byte(tok))
	return sum[:]
}

func newID(prefix string) string { return prefix + "_" + randomString(16) }

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("issuer: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
