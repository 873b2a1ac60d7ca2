// Package issuer is the agencies' side of ezheng: agencies (tenants) with their own DID and
// signing key, credential types, and issuance of SD-JWT VCs bound to a citizen's holder key.
package issuer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/secret"
	"github.com/ezheng/ezheng/internal/statuslist"
	"github.com/ezheng/ezheng/issuer/credtype"
)

// Errors of the issuer domain. The HTTP layer maps them to problem types.
var (
	ErrUnauthorized        = fmt.Errorf("%w: unknown or missing agency token", problem.ErrUnauthorized)
	ErrTypeNotAllowed      = errors.New("agency may not issue this credential type")
	ErrUnknownType         = errors.New("unknown credential type")
	ErrInvalidClaims       = credtype.ErrInvalidClaims // a *credtype.ClaimsError lists every violation
	ErrInvalidHolder       = errors.New("holder DID has no usable key")
	ErrIdempotencyConflict = errors.New("idempotency key reused with a different request")
	ErrNotFound            = errors.New("not found")
	ErrInvalidRequest      = errors.New("invalid issuance request")
)

// Agency is an issuing authority (a tenant of the issuer).
type Agency struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	DID       string    `json:"did"`
	KID       string    `json:"kid"`
	Types     []string  `json:"types"`
	Root      bool      `json:"root_authority,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Actor names who authenticated as the agency, for the audit log (see AuditEntry.Actor):
	// set by Authenticate, empty for an agency read from the store.
	Actor string `json:"-"`
}

// AgencySecrets are an agency's sealed private keys.
type AgencySecrets struct {
	Signing, Update, Recovery []byte
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
	// Formats holds the credential in the other formats its type asks for (see formats.go),
	// by format identifier: compact JWS for the JWT formats, the JSON document for ldp_vc.
	Formats map[string]string `json:"formats,omitempty"`
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
	// CreateAgency saves a new agency with its sealed keys.
	CreateAgency(ctx context.Context, a Agency, secrets AgencySecrets) error
	// DeleteAgency removes an agency that has issued nothing (its DID was refused).
	DeleteAgency(ctx context.Context, id string) error
	// Agency and AgencyByName return ErrNotFound if there is none.
	Agency(ctx context.Context, id string) (Agency, error)
	AgencyByName(ctx context.Context, name string) (Agency, error)
	// RootAuthority returns the root authority agency, or ErrNotFound.
	RootAuthority(ctx context.Context) (Agency, error)
	// Secrets returns the agency's sealed keys.
	Secrets(ctx context.Context, agencyID string) (AgencySecrets, error)
	// NextSeq increments and returns the agency's operation sequence number.
	NextSeq(ctx context.Context, agencyID string) (uint64, error)
	// AddToken stores the hash of a new API token for the agency.
	AddToken(ctx context.Context, agencyID string, tokenHash []byte, at time.Time) error
	// AgencyByToken returns the agency owning the token hash, or ErrNotFound.
	AgencyByToken(ctx context.Context, tokenHash []byte) (Agency, error)
	// SaveCredential allocates a credential of the agency a status list entry (a random unused
	// index of its open list, a new list when it is full), calls sign with it for the signed
	// credential and its sealed raw form, and stores them with the idempotency key ("" for
	// none) and request hash, all in one transaction. If the agency already used the key it
	// stores nothing and returns ErrIdempotencyConflict; if sign fails, its error.
	SaveCredential(ctx context.Context, agencyID, idemKey string, reqHash []byte, sign func(StatusEntry) (Credential, []byte, error)) error
	// CredentialByIdempotencyKey returns the credential stored under the key, its sealed raw
	// form and request hash, or ErrNotFound.
	CredentialByIdempotencyKey(ctx context.Context, agencyID, key string) (Credential, []byte, []byte, error)
	// Credential returns one credential of the agency (sealed raw form), or ErrNotFound.
	Credential(ctx context.Context, agencyID, id string) (Credential, []byte, error)
}

// Config configures the issuer service.
type Config struct {
	Store    Store
	Anchors  AnchorStore
	Offers   OfferStore  // OpenID4VCI offers; nil disables the flow
	Clients  ClientStore // OAuth 2.0 clients (oauth.go); nil disables the client credentials grant
	Sealer   *keys.Sealer
	Resolver did.Resolver
	// Ledger is the DID ledger agencies live on; nil only for a bootstrap service that makes
	// the root authority before the ledger exists (CreateAuthority).
	Ledger Ledger
	// LedgerKey verifies the ledger's checkpoints (receipts are checked before they are kept).
	LedgerKey note.Verifier
	// PublicURL is the server's base URL as clients reach it (no trailing slash): the
	// OpenID4VCI credential issuer identifier and the base of status list URLs.
	PublicURL string
	// Statuses keeps credential statuses and status lists; nil disables revocation.
	Statuses StatusStore
	// StatusTTL is how long a signed status list is valid and may be cached; DefaultStatusTTL
	// when zero.
	StatusTTL time.Duration
	Logger    *slog.Logger
	Now       func() time.Time // injected clock; time.Now when nil
}

// Service issues credentials. It is safe for concurrent use.
type Service struct {
	store     Store
	anchors   AnchorStore
	offers    OfferStore
	clients   ClientStore
	sealer    *keys.Sealer
	resolver  did.Resolver
	ledger    Ledger
	ledgerKey note.Verifier
	publicURL string
	log       *slog.Logger
	now       func() time.Time
	statuses  StatusStore
	statusTTL time.Duration
	statusMu  listLocks    // serialises the publications of each status list
	types     runtimeTypes // agencies' own credential types (types.go)
	rotateMu  sync.Mutex   // serialises key rotations and their reconciliation (rotate.go)
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.Resolver == nil || cfg.Anchors == nil {
		return nil, errors.New("issuer: Store, Anchors, Sealer and Resolver are required")
	}
	if cfg.Ledger != nil && cfg.LedgerKey == nil {
		return nil, errors.New("issuer: LedgerKey is required with a Ledger")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StatusTTL == 0 {
		cfg.StatusTTL = DefaultStatusTTL
	}
	warnFormatGaps(cfg.Logger)
	return &Service{store: cfg.Store, anchors: cfg.Anchors, offers: cfg.Offers, clients: cfg.Clients, sealer: cfg.Sealer, resolver: cfg.Resolver,
		ledger: cfg.Ledger, ledgerKey: cfg.LedgerKey, publicURL: cfg.PublicURL, log: cfg.Logger, now: cfg.Now,
		statuses: cfg.Statuses, statusTTL: cfg.StatusTTL}, nil
}

// agencyKeys are an agency's three keys: the signing key its DID document lists as
// #key-1 (assertionMethod), and the update and recovery keys that control the DID.
type agencyKeys struct {
	signing, update, recovery *keys.Key
}

func newAgencyKeys() (agencyKeys, error) {
	var k agencyKeys
	var err error
	for _, p := range []**keys.Key{&k.signing, &k.update, &k.recovery} {
		if *p, err = keys.Generate(keys.EdDSA, nil); err != nil {
			return k, err
		}
	}
	return k, nil
}

// newDID signs the create operation of an agency's did:ez with its keys.
func (k agencyKeys) createOp() (did, op string, err error) {
	create, err := ledger.NewCreate(ledger.NewDocument(k.signing.Public()), k.update.Public(), k.recovery.Public())
	if err != nil {
		return "", "", err
	}
	op, err = ledger.SignOp(create, k.update.Signer(), "")
	if err != nil {
		return "", "", err
	}
	return ledger.DIDOf(create), op, nil
}

func (s *Service) saveAgency(ctx context.Context, name string, types []string, root bool) (Agency, string, error) {
	if strings.TrimSpace(name) == "" {
		return Agency{}, "", fmt.Errorf("%w: agency name is empty", ErrInvalidRequest)
	}
	for _, t := range types {
		if _, err := LookupType(t); err != nil {
			return Agency{}, "", err
		}
	}
	k, err := newAgencyKeys()
	if err != nil {
		return Agency{}, "", err
	}
	d, op, err := k.createOp()
	if err != nil {
		return Agency{}, "", err
	}
	a := Agency{ID: secret.ID("ag"), Name: name, DID: d, KID: d + "#key-1", Types: types, Root: root, CreatedAt: s.now().UTC().Truncate(time.Second)}
	aad := []byte(a.ID)
	var sealed [3][]byte
	for i, key := range []*keys.Key{k.signing, k.update, k.recovery} {
		if sealed[i], err = s.sealer.SealKey(key, append(aad, byte('0'+i))); err != nil {
			return Agency{}, "", err
		}
	}
	if err := s.store.CreateAgency(ctx, a, AgencySecrets{Signing: sealed[0], Update: sealed[1], Recovery: sealed[2]}); err != nil {
		return Agency{}, "", fmt.Errorf("create agency: %w", err)
	}
	return a, op, nil
}

// CreateAuthority makes the root authority: an agency whose did:ez create operation is not
// submitted but returned, to be written into the ledger's genesis. It accredits the other
// agencies (Accredit). It needs no ledger.
func (s *Service) CreateAuthority(ctx context.Context, name string) (Agency, string, error) {
	a, op, err := s.saveAgency(ctx, name, nil, true)
	if err != nil {
		return Agency{}, "", err
	}
	s.log.InfoContext(ctx, "root authority created", "agency", a.ID, "did", a.DID)
	return a, op, nil
}

// CreateAgency makes a new agency allowed to issue types: fresh Ed25519 signing, update and
// recovery keys, and a did:ez created on the ledger. It returns ErrUnknownType for an unknown
// type and ErrLedgerRejected if the ledger refuses the DID.
func (s *Service) CreateAgency(ctx context.Context, name string, types []string) (Agency, error) {
	if s.ledger == nil {
		return Agency{}, errors.New("issuer: no ledger configured")
	}
	a, op, err := s.saveAgency(ctx, name, types, false)
	if err != nil {
		return Agency{}, err
	}
	if err := s.submit(ctx, op); err != nil {
		if derr := s.store.DeleteAgency(ctx, a.ID); derr != nil {
			s.log.ErrorContext(ctx, "agency left without a DID", "agency", a.ID, "err", derr)
		}
		return Agency{}, fmt.Errorf("create %s: %w", a.DID, err)
	}
	s.log.InfoContext(ctx, "agency created", "agency", a.ID, "did", a.DID)
	return a, nil
}

// Accredit has the root authority accredit issuer (a DID) for the credential types (vct
// values) in [from, until), on the ledger. Errors: ErrForbidden unless root is the root
// authority, ErrLedgerRejected.
func (s *Service) Accredit(ctx context.Context, root Agency, issuerDID string, vcts []string, from, until time.Time) error {
	if !root.Root {
		return fmt.Errorf("%w: only the root authority accredits", ErrTypeNotAllowed)
	}
	if s.ledger == nil {
		return errors.New("issuer: no ledger configured")
	}
	cur, key, err := s.agencyKey(ctx, root.ID)
	if err != nil {
		return err
	}
	root.KID = cur.KID // key's kid, even if root was read before a key rotation
	seq, err := s.store.NextSeq(ctx, root.ID)
	if err != nil {
		return err
	}
	op, err := ledger.SignOp(ledger.NewAccredit(issuerDID, vcts, from, until, seq), key.Signer(), root.KID)
	if err != nil {
		return err
	}
	return s.submit(ctx, op)
}

// submit sends op to the ledger and turns a rejection into ErrLedgerRejected.
func (s *Service) submit(ctx context.Context, op string) error {
	res, err := s.ledger.Submit(ctx, op)
	if err != nil {
		return err
	}
	if !res.OK() {
		return fmt.Errorf("%w: %s: %s", ErrLedgerRejected, res.Code, res.Reason)
	}
	return nil
}

// agencyKey returns the agency and its current signing key (the one its kid names). It first
// waits for a key rotation of the agency under way and settles one left pending by a crash
// (settleRotation); callers sign with the returned agency's KID, not a copy read earlier.
func (s *Service) agencyKey(ctx context.Context, agencyID string) (Agency, *keys.Key, error) {
	if err := s.settleRotation(ctx, agencyID); err != nil {
		return Agency{}, nil, fmt.Errorf("pending key rotation: %w", err)
	}
	a, err := s.store.Agency(ctx, agencyID)
	if err != nil {
		return Agency{}, nil, err
	}
	sec, err := s.store.Secrets(ctx, agencyID)
	if err != nil {
		return Agency{}, nil, err
	}
	k, err := s.sealer.OpenKey(sec.Signing, append([]byte(agencyID), '0'))
	if err != nil {
		return Agency{}, nil, fmt.Errorf("open agency key: %w", err)
	}
	return a, k, nil
}

// RootAuthority returns the root authority (made by CreateAuthority), or ErrNotFound.
func (s *Service) RootAuthority(ctx context.Context) (Agency, error) {
	return s.store.RootAuthority(ctx)
}

// AgencyByName returns the agency called name, or ErrNotFound.
func (s *Service) AgencyByName(ctx context.Context, name string) (Agency, error) {
	return s.store.AgencyByName(ctx, name)
}

// NewToken mints an API token for the agency. Only its hash is stored; the caller must hand
// the token to the agency and keep no copy in logs.
func (s *Service) NewToken(ctx context.Context, agencyID string) (string, error) {
	tok, hash := secret.Token("ezt")
	if err := s.store.AddToken(ctx, agencyID, hash, s.now().UTC()); err != nil {
		return "", fmt.Errorf("add token: %w", err)
	}
	return tok, nil
}

// Authenticate returns the agency owning token — an API token (NewToken) or an unexpired
// OAuth access token of a live client (ClientToken) — or ErrUnauthorized. The agency's Types
// are narrowed to those the ledger accredits it for now (checkAccredited), so every operation
// that checks Types (issuance, offers, bulk jobs) refuses a type whose accreditation is not in
// force.
func (s *Service) Authenticate(ctx context.Context, token string) (Agency, error) {
	var a Agency
	var err error
	if isAccessToken(token) {
		a, err = s.authenticateAccessToken(ctx, token)
	} else if hash := secret.Hash(token); hash == nil {
		return Agency{}, ErrUnauthorized
	} else if a, err = s.store.AgencyByToken(ctx, hash); errors.Is(err, ErrNotFound) {
		return Agency{}, ErrUnauthorized
	} else if err == nil {
		a.Actor = tokenActor(hash)
	}
	if err != nil {
		return Agency{}, err
	}
	if a.Types, err = s.accreditedTypes(ctx, a, s.now()); err != nil {
		return Agency{}, err
	}
	return a, nil
}

// Issue signs a credential of req.Type for req.Holder as agency a and stores it. With an
// idempotency key it returns the credential issued earlier for the same key and request
// (created=false), or ErrIdempotencyConflict if the request differs. Other errors:
// ErrUnknownType, ErrTypeNotAllowed (the type is not in a.Types, or the ledger does not
// accredit a for it now), ErrInvalidClaims (a *credtype.ClaimsError), ErrInvalidHolder,
// ErrInvalidRequest. Nothing is stored when it fails.
func (s *Service) Issue(ctx context.Context, a Agency, req IssueRequest) (c Credential, created bool, err error) {
	t, err := s.AgencyType(ctx, a, req.Type)
	if err != nil {
		return Credential{}, false, err
	}
	if !contains(a.Types, t.Name) {
		return Credential{}, false, fmt.Errorf("%w: %s may not issue %s", ErrTypeNotAllowed, a.Name, t.Name)
	}
	if err := s.checkAccredited(ctx, a, t, s.now()); err != nil {
		return Credential{}, false, err
	}
	if len(req.IdempotencyKey) > 255 {
		return Credential{}, false, fmt.Errorf("%w: idempotency key longer than 255 bytes", ErrInvalidRequest)
	}
	if err := t.Validate(req.Claims); err != nil {
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
			if prev.Raw, err = s.openRaw(prev.ID, sealed); err != nil {
				return Credential{}, false, err
			}
			prev.Formats, err = s.retryFormats(ctx, a, prev, req.Claims)
			return prev, false, err
		case !errors.Is(err, ErrNotFound):
			return Credential{}, false, err
		}
	}
	holderKey, err := did.ResolveKey(ctx, s.resolver, holderKID(req.Holder), did.Authentication)
	if err != nil {
		if did.IsUnresolvable(err) {
			return Credential{}, false, fmt.Errorf("%w: %v", ErrInvalidHolder, err)
		}
		return Credential{}, false, err
	}
	cur, key, err := s.agencyKey(ctx, a.ID)
	if err != nil {
		return Credential{}, false, err
	}
	a.KID = cur.KID // key's kid, even if a was read before a key rotation
	c, payload := s.newSDJWTVC(a, t, req.Holder, map[string]any{"jwk": holderKey.Public()}, req.Claims)
	disclose := t.Disclosable(req.Claims)
	is, err := sdjwt.NewIssuer(key.Signer(), FormatSDJWTVC, a.KID)
	if err != nil {
		return Credential{}, false, err
	}
	// The status entry is allocated in the save transaction, so the credential is signed
	// there; the status claim is never selectively disclosable. The W3C formats come from the
	// same claims, times and status entry. They are signed in the transaction too, so that a
	// failure stores nothing, and stored right after it (see formats.go).
	var formats map[string]string
	sign := func(e StatusEntry) (Credential, []byte, error) {
		var err error
		if formats, err = s.buildFormats(ctx, t, a, key, c, req.Claims, e); err != nil {
			return Credential{}, nil, err
		}
		payload["status"] = statuslist.StatusClaim(s.StatusListURI(e.List), e.Index)
		raw, err := is.Issue(payload, disclose, 0, rand.Reader)
		if err != nil {
			return Credential{}, nil, fmt.Errorf("sign: %w", err)
		}
		c.Raw, c.Digest = raw, sdjwt.AnchorDigest(raw)
		return c, s.sealer.Seal([]byte(raw), []byte(c.ID)), nil
	}
	if err := s.store.SaveCredential(ctx, a.ID, req.IdempotencyKey, reqHash, sign); err != nil {
		if errors.Is(err, ErrIdempotencyConflict) { // a concurrent request with the same key won
			return s.Issue(ctx, a, req)
		}
		return Credential{}, false, fmt.Errorf("save credential: %w", err)
	}
	if err := s.saveFormats(ctx, c.ID, formats); err != nil {
		// The SD-JWT VC is issued and stored; failing now would make a client without an
		// idempotency key issue it twice. A retry with the key stores the formats again.
		s.log.ErrorContext(ctx, "credential formats not stored", "credential", c.ID, "err", err)
	}
	c.Formats = formats
	s.log.InfoContext(ctx, "credential issued", "agency", a.ID, "credential", c.ID, "type", c.Type)
	return c, true, nil
}

// newSDJWTVC returns the record of a new credential of type t that agency a issues now to
// holder, and its SD-JWT VC payload before the status claim: the claims, plus iss, vct, iat,
// exp and cnf (the binding to the holder's key). Issue and IssueMany both start here.
func (s *Service) newSDJWTVC(a Agency, t *credtype.Type, holder string, cnf any, claims map[string]any) (Credential, map[string]any) {
	now := s.now().UTC().Truncate(time.Second)
	c := Credential{
		ID: secret.SortableID("cred", s.now()), AgencyID: a.ID, Type: t.Name, Format: FormatSDJWTVC, Holder: holder,
		IssuedAt: now, ExpiresAt: now.Add(t.Validity),
	}
	payload := map[string]any{"iss": a.DID, "vct": t.VCT, "iat": now.Unix(), "exp": c.ExpiresAt.Unix(), "cnf": cnf}
	for k, v := range claims {
		payload[k] = v
	}
	return c, payload
}

// Credential returns credential id issued by agency a, or ErrNotFound.
func (s *Service) Credential(ctx context.Context, a Agency, id string) (Credential, error) {
	c, sealed, err := s.store.Credential(ctx, a.ID, id)
	if err != nil {
		return Credential{}, err
	}
	if c.Raw, err = s.openRaw(c.ID, sealed); err != nil {
		return Credential{}, err
	}
	c.Formats, err = s.loadFormats(ctx, c.ID)
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
