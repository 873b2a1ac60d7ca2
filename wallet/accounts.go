package wallet

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/dpop"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/secret"
)

// Errors of accounts, enrolment and devices.
var (
	ErrInvalidPhone    = errors.New("phone number must be + and 7 to 15 digits (E.164)")
	ErrCodeTooSoon     = errors.New("a code was sent moments ago; wait before asking again")
	ErrCodeInvalid     = errors.New("the code is wrong, used, or was never sent")
	ErrCodeExpired     = errors.New("the code has expired; ask for a new one")
	ErrCodeAttempts    = errors.New("too many wrong codes; ask for a new one")
	ErrIdentity        = errors.New("identity could not be proven")
	ErrDeviceKey       = errors.New("device key must be a public P-256 (ES256) or Ed25519 (EdDSA) JWK")
	ErrDeviceKeyInUse  = fmt.Errorf("%w: the device key is registered to another account", problem.ErrConflict)
	ErrDeviceNotBound  = fmt.Errorf("%w: the access token is not bound to a device key", problem.ErrUnauthorized)
	errNoCodeSender    = errors.New("wallet: no CodeSender configured")
	errNoProofer       = errors.New("wallet: no IdentityProofer configured")
	errNoAccountSecret = errors.New("wallet: AccountSecret must be at least 32 bytes")
)

// Enrolment code policy.
const (
	CodeDigits         = 6
	DefaultCodeTTL     = 5 * time.Minute
	DefaultCodeGap     = 30 * time.Second
	DefaultMaxAttempts = 5
)

// Device is a key a citizen's app holds; access tokens are bound to one (DPoP).
type Device struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Thumbprint string          `json:"jkt"` // RFC 7638 thumbprint, the tokens' cnf.jkt
	Alg        string          `json:"alg"`
	Key        jose.JSONWebKey `json:"jwk"` // public
	CreatedAt  time.Time       `json:"created_at"`
}

// Session is who an access token speaks for: the citizen and the device it is bound to.
type Session struct {
	Citizen Citizen
	Device  Device
}

// IdentityClaim is what a citizen says about themselves at enrolment.
type IdentityClaim struct {
	Phone    string
	Name     string
	IDNumber string // the resident identity card number
}

// Identity is what identity proofing confirmed.
type Identity struct {
	Name string
	// Subject is the proofing service's stable pseudonymous id of the person (never the ID
	// number itself).
	Subject string
}

// IdentityProofer proves a citizen's identity at enrolment. A real deployment plugs in the
// national real-name service; DemoProofer is for demos and tests.
type IdentityProofer interface {
	// Prove checks that claim names a real person. It returns an error wrapping ErrIdentity
	// (with a reason safe to show the citizen) when it does not; any other error is a fault
	// and the enrolment is not made.
	Prove(ctx context.Context, claim IdentityClaim) (Identity, error)
}

// CodeSender delivers one-time codes (by SMS in a real deployment).
type CodeSender interface {
	// SendCode sends code to phone. An error fails the request; the code stays valid.
	SendCode(ctx context.Context, phone, code string) error
}

// EnrolmentCode is a pending one-time code, hashed.
type EnrolmentCode struct {
	PhoneHash []byte
	CodeHash  []byte
	Attempts  int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuditRecord is an account event without personal data.
type AuditRecord struct {
	At      time.Time       `json:"at"`
	Action  string          `json:"action"`
	Subject string          `json:"subject"` // pseudonym of the citizen
	Detail  json.RawMessage `json:"detail"`
}

// NewAccount is what CreateAccount stores in one transaction.
type NewAccount struct {
	Citizen       Citizen
	PhoneHash     []byte
	SealedKey     []byte // holder key, sealed by the data key (version 1)
	SealedDataKey []byte // data key, sealed by the wallet key
	SealedProfile []byte // profile, sealed by the data key
}

// AccountStore is the part of Store for accounts, devices, codes and erasure.
type AccountStore interface {
	// PutCode stores a new code for its phone, replacing a pending one, unless one was made
	// after notBefore: then ErrCodeTooSoon.
	PutCode(ctx context.Context, c EnrolmentCode, notBefore time.Time) error
	// UseCode checks codeHash against the phone's pending code in one transaction: no code
	// → ErrCodeInvalid; expired → ErrCodeExpired (deleted); maxAttempts reached →
	// ErrCodeAttempts; wrong → attempts+1 and ErrCodeInvalid; right → deleted, nil.
	UseCode(ctx context.Context, phoneHash, codeHash []byte, now time.Time, maxAttempts int) error
	// CitizenByPhone returns ErrNotFound if no account has that phone.
	CitizenByPhone(ctx context.Context, phoneHash []byte) (Citizen, error)
	// CreateAccount stores a citizen with its first device and token. A phone already
	// enrolled gives ErrInvalidRequest; a device key of another account ErrDeviceKeyInUse.
	CreateAccount(ctx context.Context, a NewAccount, d Device, tokenHash []byte) error
	// AddDevice binds a new token to device d of the citizen, storing d unless the citizen
	// has a device with the same thumbprint already (that one is returned). A key of
	// another citizen gives ErrDeviceKeyInUse.
	AddDevice(ctx context.Context, citizenID string, d Device, tokenHash []byte, at time.Time) (Device, error)
	// SessionByToken returns the token's citizen and device (zero Device for a token bound
	// to none), or ErrNotFound.
	SessionByToken(ctx context.Context, tokenHash []byte) (Citizen, Device, error)
	// Devices lists the citizen's devices, oldest first.
	Devices(ctx context.Context, citizenID string) ([]Device, error)
	// DeleteDevice deletes the citizen's device and every token bound to it, or returns
	// ErrNotFound.
	DeleteDevice(ctx context.Context, citizenID, id string) error
	// RememberJTI implements dpop.ReplayCache with the caller's clock: it first forgets
	// keys that expired before now.
	RememberJTI(ctx context.Context, key []byte, expires, now time.Time) (bool, error)
	// DataKey returns the citizen's sealed data key, nil if it has none yet.
	DataKey(ctx context.Context, citizenID string) ([]byte, error)
	// SetDataKey stores sealed as the citizen's data key unless one exists; it returns the
	// one stored.
	SetDataKey(ctx context.Context, citizenID string, sealed []byte) ([]byte, error)
	// Profile returns the citizen's sealed profile, nil if none.
	Profile(ctx context.Context, citizenID string) ([]byte, error)
	// LegacyCredentials lists (id, sealed) of the citizen's credentials with key version 0.
	LegacyCredentials(ctx context.Context, citizenID string) (map[string][]byte, error)
	// ResealCredential replaces a version-0 credential's sealed form with a version-1 one.
	ResealCredential(ctx context.Context, citizenID, id string, sealed []byte) error
	// SealedHolderKey returns the citizen's sealed holder key and its key version (0: sealed
	// with the wallet key, 1: with the citizen's data key), or ErrNotFound.
	SealedHolderKey(ctx context.Context, citizenID string) ([]byte, int, error)
	// ResealHolderKey replaces a version-0 holder key with a version-1 one.
	ResealHolderKey(ctx context.Context, citizenID string, sealed []byte) error
	// LegacyCitizenIDs lists the citizens without a data key, with a holder key of version 0
	// or with a credential of key version 0.
	LegacyCitizenIDs(ctx context.Context) ([]string, error)
	// EraseCitizen deletes the citizen and everything of theirs (tokens, devices,
	// credentials, pending issuances, data key, a pending code for their phone) and
	// appends rec (detail: the counts), in one transaction. It returns what was deleted
	// (Subject from rec), or ErrNotFound.
	EraseCitizen(ctx context.Context, citizenID string, rec AuditRecord) (Erasure, error)
	// AddAudit appends an audit record.
	AddAudit(ctx context.Context, rec AuditRecord) error
}

// Erasure reports an account deletion.
type Erasure struct {
	Subject     string    `json:"subject"` // the audit pseudonym
	Credentials int       `json:"credentials"`
	Devices     int       `json:"devices"`
	Tokens      int       `json:"tokens"`
	Pending     int       `json:"pending"`
	ErasedAt    time.Time `json:"erased_at"`
}

// RequestCode sends a one-time enrolment code to phone. At most one code per phone is
// pending; asking again within DefaultCodeGap gives ErrCodeTooSoon. The code is stored only
// as an HMAC. Errors: ErrInvalidPhone, ErrCodeTooSoon.
func (s *Service) RequestCode(ctx context.Context, phone string) (expiresIn time.Duration, err error) {
	if s.codes == nil {
		return 0, errNoCodeSender
	}
	phone, err = normalizePhone(phone)
	if err != nil {
		return 0, err
	}
	code, err := randomDigits(CodeDigits)
	if err != nil {
		return 0, err
	}
	now := s.now().UTC()
	ph := s.mac("phone", phone)
	c := EnrolmentCode{PhoneHash: ph, CodeHash: s.mac("code", string(ph)+code), CreatedAt: now, ExpiresAt: now.Add(DefaultCodeTTL)}
	if err := s.accounts.PutCode(ctx, c, now.Add(-DefaultCodeGap)); err != nil {
		return 0, err
	}
	if err := s.codes.SendCode(ctx, phone, code); err != nil {
		return 0, fmt.Errorf("send code: %w", err)
	}
	return DefaultCodeTTL, nil
}

// EnrolRequest is a citizen's enrolment or login on a device: the phone and the code sent to
// it, and, for a new account, who they are.
type EnrolRequest struct {
	Phone      string `json:"phone"`
	Code       string `json:"code"`
	Name       string `json:"name,omitempty"`
	IDNumber   string `json:"id_number,omitempty"`
	DeviceName string `json:"device_name,omitempty"`
}

// Enrolment is the result of Enrol: the account, the device and a DPoP-bound access token.
type Enrolment struct {
	Citizen     Citizen `json:"citizen"`
	Device      Device  `json:"device"`
	AccessToken string  `json:"access_token"`
	TokenType   string  `json:"token_type"` // "DPoP"
	Created     bool    `json:"created"`    // a new account (else a login on a new device)
}

// Enrol checks the one-time code for req.Phone and binds deviceKey (whose possession the
// caller has checked, e.g. with a DPoP proof): for a phone without an account it first proves
// req's identity and creates the account (a holder key, a data key); for an enrolled phone it
// adds the device (a login). Either way it returns an access token bound to the device.
// Errors: ErrInvalidPhone, ErrInvalidRequest, ErrDeviceKey, ErrIdentity, ErrCodeInvalid,
// ErrCodeExpired, ErrCodeAttempts, ErrDeviceKeyInUse. Nothing is stored when it fails
// (except a wrong code's attempt count).
func (s *Service) Enrol(ctx context.Context, req EnrolRequest, deviceKey jose.JSONWebKey) (Enrolment, error) {
	phone, err := normalizePhone(req.Phone)
	if err != nil {
		return Enrolment{}, err
	}
	if len(req.Code) != CodeDigits || strings.Trim(req.Code, "0123456789") != "" {
		return Enrolment{}, fmt.Errorf("%w: code must be %d digits", ErrInvalidRequest, CodeDigits)
	}
	dev, err := newDevice(deviceKey, req.DeviceName, s.now())
	if err != nil {
		return Enrolment{}, err
	}
	ph := s.mac("phone", phone)
	existing, err := s.accounts.CitizenByPhone(ctx, ph)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Enrolment{}, err
	}
	newAccount := errors.Is(err, ErrNotFound)
	var id Identity
	if newAccount {
		if s.proofer == nil {
			return Enrolment{}, errNoProofer
		}
		if strings.TrimSpace(req.Name) == "" || req.IDNumber == "" {
			return Enrolment{}, fmt.Errorf("%w: a new account needs name and id_number", ErrInvalidRequest)
		}
		if id, err = s.proofer.Prove(ctx, IdentityClaim{Phone: phone, Name: strings.TrimSpace(req.Name), IDNumber: req.IDNumber}); err != nil {
			return Enrolment{}, err
		}
	}
	now := s.now().UTC()
	if err := s.accounts.UseCode(ctx, ph, s.mac("code", string(ph)+req.Code), now, DefaultMaxAttempts); err != nil {
		return Enrolment{}, err
	}
	tok, hash := secret.Token("ezw")
	if !newAccount {
		d, err := s.accounts.AddDevice(ctx, existing.ID, dev, hash, now)
		if err != nil {
			return Enrolment{}, fmt.Errorf("add device: %w", err)
		}
		s.audit(ctx, "device.added", existing.ID, nil)
		return Enrolment{Citizen: existing, Device: d, AccessToken: tok, TokenType: "DPoP"}, nil
	}
	cit, acct, err := s.newAccount(id, ph, now)
	if err != nil {
		return Enrolment{}, err
	}
	if err := s.accounts.CreateAccount(ctx, acct, dev, hash); err != nil {
		return Enrolment{}, fmt.Errorf("create account: %w", err)
	}
	s.log.InfoContext(ctx, "citizen enrolled", "citizen", cit.ID, "device", dev.ID)
	s.audit(ctx, "account.enrolled", cit.ID, nil)
	cit.Name = id.Name
	return Enrolment{Citizen: cit, Device: dev, AccessToken: tok, TokenType: "DPoP", Created: true}, nil
}

// profile is what identity proofing gave, sealed with the citizen's data key.
type profile struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
}

// newAccount makes a citizen with a holder key and a data key, its profile sealed. The
// citizens.name column holds the citizen id, not the name (names are not unique, and the
// name is personal data: it is in the sealed profile).
func (s *Service) newAccount(id Identity, phoneHash []byte, now time.Time) (Citizen, NewAccount, error) {
	c, holder, err := s.newCitizen(now)
	if err != nil {
		return Citizen{}, NewAccount{}, err
	}
	c.Name = c.ID
	dk := make([]byte, 32)
	rand.Read(dk)
	cs, err := dataSealer(dk)
	if err != nil {
		return Citizen{}, NewAccount{}, err
	}
	sealedKey, err := cs.SealKey(holder, holderKeyAAD(c.ID))
	if err != nil {
		return Citizen{}, NewAccount{}, err
	}
	pb, _ := json.Marshal(profile(id))
	return c, NewAccount{Citizen: c, PhoneHash: phoneHash, SealedKey: sealedKey,
		SealedDataKey: s.sealer.Seal(dk, dataKeyAAD(c.ID)), SealedProfile: cs.Seal(pb, []byte(c.ID+"/profile"))}, nil
}

// RegisterDevice binds a device key to an existing citizen and returns a DPoP-bound access
// token for it, without a code: for seeding the demo citizen and for administration, never
// exposed to the app. Errors: ErrDeviceKey, ErrDeviceKeyInUse, ErrNotFound.
func (s *Service) RegisterDevice(ctx context.Context, citizenID string, key jose.JSONWebKey, name string) (Device, string, error) {
	dev, err := newDevice(key, name, s.now())
	if err != nil {
		return Device{}, "", err
	}
	tok, hash := secret.Token("ezw")
	d, err := s.accounts.AddDevice(ctx, citizenID, dev, hash, s.now().UTC())
	if err != nil {
		return Device{}, "", err
	}
	return d, tok, nil
}

func newDevice(key jose.JSONWebKey, name string, now time.Time) (Device, error) {
	if !key.Valid() || !key.IsPublic() {
		return Device{}, ErrDeviceKey
	}
	var alg string
	switch k := key.Key.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return Device{}, ErrDeviceKey
		}
		alg = "ES256"
	case ed25519.PublicKey:
		alg = "EdDSA"
	default:
		return Device{}, ErrDeviceKey
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "phone"
	}
	if utf8.RuneCountInString(name) > 64 {
		return Device{}, fmt.Errorf("%w: device_name longer than 64 characters", ErrInvalidRequest)
	}
	pub := jose.JSONWebKey{Key: key.Key, Algorithm: alg}
	tp, err := dpop.Thumbprint(pub)
	if err != nil {
		return Device{}, ErrDeviceKey
	}
	return Device{ID: secret.ID("dev"), Name: name, Thumbprint: tp, Alg: alg, Key: pub, CreatedAt: now.UTC().Truncate(time.Second)}, nil
}

// Session returns the citizen and device an access token speaks for. Errors: ErrUnauthorized
// for an unknown or removed token, ErrDeviceNotBound for a token bound to no device (minted
// before device binding): the bridge accepts only DPoP-bound tokens.
func (s *Service) Session(ctx context.Context, token string) (Session, error) {
	hash := secret.Hash(token)
	if hash == nil {
		return Session{}, ErrUnauthorized
	}
	c, d, err := s.accounts.SessionByToken(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return Session{}, ErrUnauthorized
	}
	if err != nil {
		return Session{}, err
	}
	if d.ID == "" {
		return Session{}, ErrDeviceNotBound
	}
	return Session{Citizen: c, Device: d}, nil
}

// ReplayCache returns the wallet database's record of seen DPoP proofs.
func (s *Service) ReplayCache() dpop.ReplayCache { return replayCache{s} }

type replayCache struct{ s *Service }

func (r replayCache) Remember(ctx context.Context, key []byte, expires time.Time) (bool, error) {
	return r.s.accounts.RememberJTI(ctx, key, expires, r.s.now())
}

// Me returns c with the name from its sealed profile (an enrolled account) or as stored (the
// demo citizen).
func (s *Service) Me(ctx context.Context, c Citizen) (Citizen, error) {
	sealed, err := s.accounts.Profile(ctx, c.ID)
	if err != nil || sealed == nil {
		return c, err
	}
	cs, err := s.citizenSealer(ctx, c.ID)
	if err != nil {
		return c, err
	}
	b, err := cs.Open(sealed, []byte(c.ID+"/profile"))
	if err != nil {
		return c, fmt.Errorf("open profile: %w", err)
	}
	var p profile
	if err := json.Unmarshal(b, &p); err != nil {
		return c, err
	}
	c.Name = p.Name
	return c, nil
}

// Devices lists c's devices.
func (s *Service) Devices(ctx context.Context, c Citizen) ([]Device, error) {
	return s.accounts.Devices(ctx, c.ID)
}

// RemoveDevice removes one of c's devices; its tokens stop working at once. Errors:
// ErrNotFound (also for another citizen's device).
func (s *Service) RemoveDevice(ctx context.Context, c Citizen, id string) error {
	if err := s.accounts.DeleteDevice(ctx, c.ID, id); err != nil {
		return err
	}
	s.audit(ctx, "device.removed", c.ID, nil)
	return nil
}

// Erase deletes c's account and everything the wallet holds for them — credentials, holder
// key, data key (so any copy of their sealed data left in a backup cannot be opened: crypto
// shredding), devices, tokens, pending issuances — and records the erasure in the audit table
// under a pseudonym. Errors: ErrNotFound.
func (s *Service) Erase(ctx context.Context, c Citizen) (Erasure, error) {
	now := s.now().UTC().Truncate(time.Second)
	rec := AuditRecord{At: now, Action: "account.erased", Subject: s.pseudonym(c.ID)}
	e, err := s.accounts.EraseCitizen(ctx, c.ID, rec)
	if err != nil {
		return Erasure{}, err
	}
	s.log.InfoContext(ctx, "citizen erased", "subject", e.Subject)
	return e, nil
}

// Audit records account events under a pseudonym; failures are logged, not returned.
func (s *Service) audit(ctx context.Context, action, citizenID string, detail map[string]any) {
	b := []byte("{}")
	if detail != nil {
		b, _ = json.Marshal(detail)
	}
	rec := AuditRecord{At: s.now().UTC().Truncate(time.Second), Action: action, Subject: s.pseudonym(citizenID), Detail: b}
	if err := s.accounts.AddAudit(ctx, rec); err != nil {
		s.log.WarnContext(ctx, "audit record not written", "action", action, "err", err)
	}
}

// pseudonym is the audit subject of a citizen: an HMAC of the id, linkable to nobody once
// the account is gone.
func (s *Service) pseudonym(citizenID string) string {
	return "sub_" + hex.EncodeToString(s.mac("audit", citizenID)[:16])
}

func (s *Service) mac(purpose, v string) []byte {
	m := hmac.New(sha256.New, s.accountSecret)
	m.Write([]byte("ezheng/wallet/" + purpose + "\x00" + v))
	return m.Sum(nil)
}

// normalizePhone accepts "+" and 7-15 digits, with spaces or dashes between them.
func normalizePhone(p string) (string, error) {
	p = strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(p))
	if len(p) < 8 || len(p) > 16 || p[0] != '+' || p[1] == '0' || strings.Trim(p[1:], "0123456789") != "" {
		return "", ErrInvalidPhone
	}
	return p, nil
}

func randomDigits(n int) (string, error) {
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
	v, err := rand.Int(rand.Reader, max)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%0*d", n, v), nil
}

// DemoProofer stands in for a national real-name service: it accepts any name of 1-64
// characters with a resident identity number whose GB 11643 check digit is right, and gives
// a subject derived from the number. It calls nobody.
type DemoProofer struct{}

// Prove implements IdentityProofer.
func (DemoProofer) Prove(_ context.Context, c IdentityClaim) (Identity, error) {
	if n := utf8.RuneCountInString(c.Name); n == 0 || n > 64 {
		return Identity{}, fmt.Errorf("%w: name must be 1 to 64 characters", ErrIdentity)
	}
	if !ValidResidentID(c.IDNumber) {
		return Identity{}, fmt.Errorf("%w: id_number is not a valid resident identity number", ErrIdentity)
	}
	sum := sha256.Sum256([]byte("demo-proofer/" + c.IDNumber))
	return Identity{Name: c.Name, Subject: "demo:" + hex.EncodeToString(sum[:12])}, nil
}

// ValidResidentID reports whether id is 18 characters whose last is the GB 11643-1999 check
// digit (ISO 7064 MOD 11-2) of the first 17 digits.
func ValidResidentID(id string) bool {
	if len(id) != 18 || strings.Trim(id[:17], "0123456789") != "" {
		return false
	}
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(id[i]-'0') * w
	}
	return id[17] == "10X98765432"[sum%11] || (id[17] == 'x' && sum%11 == 2)
}
