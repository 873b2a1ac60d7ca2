// Package wallet is the citizen's wallet backend: citizens with their holder keys, an
// encrypted credential store that checks every credential before keeping it, and holder-bound
// presentations (SD-JWT + key-binding JWT) that disclose only the claims asked for.
package wallet

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/safehttp"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/secret"
)

// Errors of the wallet domain.
var (
	ErrUnauthorized      = fmt.Errorf("%w: unknown or missing citizen token", problem.ErrUnauthorized)
	ErrNotFound          = errors.New("not found")
	ErrInvalidCredential = errors.New("credential rejected")
	ErrNotBound          = errors.New("credential is bound to another holder key")
	ErrUnknownClaim      = errors.New("claim not in this credential")
	ErrInvalidRequest    = errors.New("invalid request")
)

// Citizen is a wallet account with one holder key.
type Citizen struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	HolderDID string    `json:"holder_did"`
	HolderKID string    `json:"holder_kid"`
	CreatedAt time.Time `json:"created_at"`
}

// Credential is a stored credential's metadata: what the wallet keeps in clear to list and
// search. The credential itself (Raw) is sealed at rest.
type Credential struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"` // vct
	Issuer    string    `json:"issuer"`
	Format    string    `json:"format"`
	Digest    string    `json:"digest"` // hex SHA-256 of the issued credential
	Claims    []string  `json:"claims"` // names of the selectively disclosable claims
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	StoredAt  time.Time `json:"stored_at"`
	Raw       string    `json:"-"`
	// KeyVersion says what Raw is sealed with at rest: 0 the wallet key (before envelope
	// encryption), 1 the citizen's data key.
	KeyVersion int `json:"-"`
	// Anchor is the state of its anchor receipt (anchor.go), in a credential's detail.
	Anchor *AnchorStatus `json:"anchor,omitempty"`
	// HolderKey is the id of the holder key on the phone the credential is bound to, and
	// Text the credential as issued (every disclosure, no KB-JWT): in a credential's detail,
	// only for a credential bound to a holder key on the phone, so that the app can make
	// counter presentations with its key while offline. Empty for a wallet-held credential.
	HolderKey string `json:"holder_key,omitempty"`
	Text      string `json:"credential,omitempty"`
}

// Presentation is a holder-bound presentation ready to show as a QR code.
type Presentation struct {
	Text      string    `json:"qr"`
	Disclosed []string  `json:"disclosed"`
	Audience  string    `json:"audience"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Store is what the wallet needs from storage. Implementation: walletstore.
type Store interface {
	AccountStore
	CreateCitizen(ctx context.Context, c Citizen, sealedKey []byte) error
	// CitizenByName returns ErrNotFound if there is none.
	CitizenByName(ctx context.Context, name string) (Citizen, error)
	// SaveCredential stores c with its sealed raw form and returns it with created true. If
	// the citizen already holds a credential with the same digest it stores nothing and
	// returns that one with created false.
	SaveCredential(ctx context.Context, citizenID string, c Credential, sealedRaw []byte) (stored Credential, created bool, err error)
	Credentials(ctx context.Context, citizenID string) ([]Credential, error)
	// Credential returns ErrNotFound unless the citizen holds credential id.
	Credential(ctx context.Context, citizenID, id string) (Credential, []byte, error)
}

// Config configures the wallet service.
type Config struct {
	Store    Store
	Sealer   *keys.Sealer
	Resolver did.Resolver
	Logger   *slog.Logger
	Now      func() time.Time
	// QRValidity is how long a counter presentation stays valid; 60 s when zero.
	QRValidity time.Duration
	// HTTPClient fetches from issuers (OpenID4VCI); nil means one that refuses internal
	// addresses (safehttp).
	HTTPClient *http.Client
	// AllowLoopbackHTTP lets offers and issuers on http://127.0.0.1 / localhost be used: for
	// a local demo server only.
	AllowLoopbackHTTP bool
	// AccountSecret keys the HMACs of phone numbers, one-time codes and audit pseudonyms
	// (at least 32 bytes, derived from the master key); required.
	AccountSecret []byte
	// Proofer proves a new citizen's identity at enrolment; enrolling a new account fails
	// without one.
	Proofer IdentityProofer
	// Codes sends one-time enrolment codes; RequestCode fails without one.
	Codes CodeSender
	// Checker verifies every credential before the wallet keeps it (check.go); required.
	Checker CredentialChecker
	// Anchors configures fetching the anchor receipts of held credentials (anchor.go).
	Anchors AnchorConfig
	// Control configures presentation history, backups and notifications (history.go,
	// backup.go, notify.go).
	Control ControlConfig
}

// DefaultAudience is the KB-JWT audience of a counter QR made for no particular counter.
const DefaultAudience = "urn:ezheng:counter"

// Service is the wallet backend. It is safe for concurrent use.
type Service struct {
	store         Store
	sealer        *keys.Sealer
	resolver      did.Resolver
	log           *slog.Logger
	now           func() time.Time
	qrValidity    time.Duration
	http          *http.Client
	allowLoopback bool
	accounts      AccountStore
	accountSecret []byte
	proofer       IdentityProofer
	codes         CodeSender
	checker       CredentialChecker
	anchors       *anchorRunner
	ctl           *control
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.Resolver == nil || cfg.Checker == nil {
		return nil, errors.New("wallet: Store, Sealer, Resolver and Checker are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.QRValidity == 0 {
		cfg.QRValidity = 60 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = safehttp.Client(false)
	}
	if len(cfg.AccountSecret) < 32 {
		return nil, errNoAccountSecret
	}
	return &Service{store: cfg.Store, sealer: cfg.Sealer, resolver: cfg.Resolver, log: cfg.Logger, now: cfg.Now, qrValidity: cfg.QRValidity,
		http: cfg.HTTPClient, allowLoopback: cfg.AllowLoopbackHTTP,
		accounts: cfg.Store, accountSecret: cfg.AccountSecret, proofer: cfg.Proofer, codes: cfg.Codes,
		checker: cfg.Checker, anchors: newAnchorRunner(cfg.Anchors),
		ctl: newControl(cfg.Control)}, nil
}

// CreateCitizen makes a citizen called name with a new P-256 holder key (the kind phones
// keep in hardware) and its did:jwk, without enrolment: for the demo citizen and tests.
// Citizens enrol with RequestCode and Enrol.
func (s *Service) CreateCitizen(ctx context.Context, name string) (Citizen, error) {
	if strings.TrimSpace(name) == "" {
		return Citizen{}, fmt.Errorf("%w: name is empty", ErrInvalidRequest)
	}
	c, k, err := s.newCitizen(s.now())
	if err != nil {
		return Citizen{}, err
	}
	c.Name = name
	sealed, err := s.sealer.SealKey(k, []byte(c.ID))
	if err != nil {
		return Citizen{}, err
	}
	if err := s.store.CreateCitizen(ctx, c, sealed); err != nil {
		return Citizen{}, fmt.Errorf("create citizen: %w", err)
	}
	s.log.InfoContext(ctx, "citizen enrolled", "citizen", c.ID)
	return c, nil
}

// newCitizen makes a citizen id with a new P-256 holder key and its did:jwk.
func (s *Service) newCitizen(now time.Time) (Citizen, *keys.Key, error) {
	k, err := keys.Generate(keys.ES256, nil)
	if err != nil {
		return Citizen{}, nil, err
	}
	d, kid, err := did.NewJWK(k.Public())
	if err != nil {
		return Citizen{}, nil, err
	}
	return Citizen{ID: secret.ID("cit"), HolderDID: d, HolderKID: kid, CreatedAt: now.UTC().Truncate(time.Second)}, k, nil
}

// CitizenByName returns the citizen called name, or ErrNotFound.
func (s *Service) CitizenByName(ctx context.Context, name string) (Citizen, error) {
	return s.store.CitizenByName(ctx, name)
}

// Authenticate returns the citizen owning a device-bound access token, or ErrUnauthorized
// (ErrDeviceNotBound for a token bound to no device). It does not check a proof of
// possession of the device key: the bridge does (Session, then a DPoP proof).
func (s *Service) Authenticate(ctx context.Context, token string) (Citizen, error) {
	sess, err := s.Session(ctx, token)
	return sess.Citizen, err
}

// Receive checks an issued SD-JWT VC and stores it, sealed, in c's wallet. The Checker
// verifies it (check.go: the issuer's signature with the key its DID document listed at
// issuance, every disclosure, validity, status, and the issuer's accreditation for the type
// on the ledger at issuance); the wallet then checks that it is bound to c's holder key (the
// wallet-held one or a device holder key of c's). Storing the same credential twice returns
// the stored one with created false. Its anchor receipt is fetched later (anchor.go).
// Errors: ErrInvalidCredential (not an issued SD-JWT VC), *NotTrustedError (ErrNotTrusted,
// naming the failed checks), ErrNotBound; nothing is stored when it fails.
func (s *Service) Receive(ctx context.Context, c Citizen, raw string) (cred Credential, created bool, err error) {
	raw = strings.TrimSpace(raw)
	sd, err := sdjwt.Parse(raw)
	if err != nil {
		return Credential{}, false, fmt.Errorf("%w: %v", ErrInvalidCredential, err)
	}
	if sd.KeyBinding != "" {
		return Credential{}, false, fmt.Errorf("%w: a presentation, not an issued credential", ErrInvalidCredential)
	}
	iss, _ := sd.Payload["iss"].(string)
	kid, _ := sd.Header["kid"].(string)
	vct, _ := sd.Payload["vct"].(string)
	if iss == "" || kid == "" || vct == "" {
		return Credential{}, false, fmt.Errorf("%w: iss, vct and a kid header are required", ErrInvalidCredential)
	}
	if typ, _ := sd.Header["typ"].(string); typ != "dc+sd-jwt" && typ != "vc+sd-jwt" {
		return Credential{}, false, fmt.Errorf("%w: typ %q is not dc+sd-jwt", ErrInvalidCredential, typ)
	}
	if kidDID, _, err := did.SplitURL(kid); err != nil || kidDID.String() != iss {
		return Credential{}, false, fmt.Errorf("%w: kid %q is not a key of issuer %q", ErrInvalidCredential, kid, iss)
	}
	// Signature, disclosures, validity, status, accreditation: the verifier's checks. Once
	// they pass, the issuer signed the payload read below and every disclosure in sd.
	if err := s.checkTrust(ctx, raw); err != nil {
		return Credential{}, false, err
	}
	claims := sd.Payload
	hk, err := sdjwt.HolderKey(claims)
	if err != nil {
		return Credential{}, false, fmt.Errorf("%w: %v", ErrInvalidCredential, err)
	}
	// Bound to the wallet-held key or to one of c's device holder keys (devicekeys.go).
	if _, _, err := s.boundKey(ctx, c, hk); err != nil {
		return Credential{}, false, err
	}
	now := s.now().UTC()
	iat, _, err := sdjwt.ClaimTime(claims, "iat")
	if err != nil {
		return Credential{}, false, fmt.Errorf("%w: %v", ErrInvalidCredential, err)
	}
	exp, ok, err := sdjwt.ClaimTime(claims, "exp")
	if err != nil {
		return Credential{}, false, fmt.Errorf("%w: %v", ErrInvalidCredential, err)
	}
	if ok && !now.Before(exp) {
		return Credential{}, false, fmt.Errorf("%w: expired at %s", ErrInvalidCredential, exp.Format(time.RFC3339))
	}
	var names []string
	for _, d := range sd.Disclosures {
		names = append(names, d.Name)
	}
	sort.Strings(names)

	cr := Credential{
		ID: secret.ID("wc"), Type: vct, Issuer: iss, Format: "dc+sd-jwt", Digest: sdjwt.AnchorDigest(raw), // the issuer anchors the credential by this digest
		Claims: names, IssuedAt: iat, ExpiresAt: exp, StoredAt: now.Truncate(time.Second), KeyVersion: keyVersionCitizen,
	}
	sealedRaw, err := s.sealCredential(ctx, c.ID, cr.ID, []byte(raw))
	if err != nil {
		return Credential{}, false, err
	}
	stored, created, err := s.store.SaveCredential(ctx, c.ID, cr, sealedRaw)
	if err != nil {
		return Credential{}, false, fmt.Errorf("save credential: %w", err)
	}
	if created {
		s.log.InfoContext(ctx, "credential received", "citizen", c.ID, "credential", cr.ID, "type", vct)
	}
	return stored, created, nil
}

// Credentials lists c's credentials (metadata only).
func (s *Service) Credentials(ctx context.Context, c Citizen) ([]Credential, error) {
	list, err := s.store.Credentials(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	// What an app's list needs to show beside each: whether it is bound to a holder key on
	// the phone (so it is shown with the phone's signature) and where its anchor stands.
	for i := range list {
		cr, err := s.Credential(ctx, c, list[i].ID)
		if err != nil {
			return nil, err
		}
		switch hk, onDevice, err := s.credentialKey(ctx, c, cr.Raw); {
		case errors.Is(err, ErrNotBound):
		case err != nil:
			return nil, err
		case onDevice:
			list[i].HolderKey = hk.ID
		}
		if list[i].Anchor, err = s.anchorStatus(ctx, c.ID, list[i].ID, false); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// Credential returns one of c's credentials with its raw form, or ErrNotFound.
func (s *Service) Credential(ctx context.Context, c Citizen, id string) (Credential, error) {
	cr, sealed, err := s.store.Credential(ctx, c.ID, id)
	if err != nil {
		return Credential{}, err
	}
	b, err := s.openCredential(ctx, c.ID, cr, sealed)
	if err != nil {
		return Credential{}, fmt.Errorf("open credential %s: %w", cr.ID, err)
	}
	cr.Raw = string(b)
	return cr, nil
}

// Present makes a counter presentation of credential id: the SD-JWT with only the claims in
// disclose, and a key-binding JWT signed with c's holder key (aud = audience or
// DefaultAudience, a fresh random nonce, iat = now). It is valid for the configured QR
// validity. Errors: ErrNotFound, ErrUnknownClaim, ErrInvalidRequest, ErrHolderKeyOnDevice
// (the credential is bound to a holder key on the phone: StartPresentation).
func (s *Service) Present(ctx context.Context, c Citizen, id string, disclose []string, audience string) (Presentation, error) {
	if len(disclose) == 0 {
		return Presentation{}, fmt.Errorf("%w: say which claims to disclose", ErrInvalidRequest)
	}
	if audience == "" {
		audience = DefaultAudience
	}
	if len(audience) > 256 {
		return Presentation{}, fmt.Errorf("%w: audience longer than 256 bytes", ErrInvalidRequest)
	}
	cr, err := s.Credential(ctx, c, id)
	if err != nil {
		return Presentation{}, err
	}
	have := map[string]bool{}
	for _, n := range cr.Claims {
		have[n] = true
	}
	for _, n := range disclose {
		if !have[n] {
			return Presentation{}, fmt.Errorf("%w: %q", ErrUnknownClaim, n)
		}
	}
	if _, onDevice, err := s.credentialKey(ctx, c, cr.Raw); err != nil {
		return Presentation{}, err
	} else if onDevice {
		return Presentation{}, ErrHolderKeyOnDevice // the phone signs: StartPresentation
	}
	key, err := s.holderKey(ctx, c)
	if err != nil {
		return Presentation{}, err
	}
	signer, err := sdjwt.NewSigner(key.Signer(), "kb+jwt", "")
	if err != nil {
		return Presentation{}, err
	}
	now := s.now().UTC().Truncate(time.Second)
	text, err := sdjwt.Present(cr.Raw, disclose, signer, audience, secret.String(12), now)
	if err != nil {
		return Presentation{}, fmt.Errorf("present: %w", err)
	}
	p := Presentation{Text: text, Disclosed: disclose, Audience: audience, IssuedAt: now, ExpiresAt: now.Add(s.qrValidity)}
	if err := s.recordCounterQR(ctx, c, cr, p); err != nil { // history.go: every presentation is recorded
		return Presentation{}, err
	}
	return p, nil
}

// holderKey opens c's holder key, sealed with c's data key (see envelope.go).
func (s *Service) holderKey(ctx context.Context, c Citizen) (*keys.Key, error) {
	return s.openHolderKey(ctx, c.ID)
}

func sameKey(a, b interface {
	Thumbprint(crypto.Hash) ([]byte, error)
}) bool {
	ta, err1 := a.Thumbprint(crypto.SHA256)
	tb, err2 := b.Thumbprint(crypto.SHA256)
	return err1 == nil && err2 == nil && string(ta) == string(tb)
}

func sealAAD(citizenID, credID string) []byte { return []byte(citizenID + "/" + credID) }
