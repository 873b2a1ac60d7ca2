package dpop

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// ReplayCache remembers the jti values of accepted proofs.
type ReplayCache interface {
	// Remember records key until expires and reports whether it was new: false when key was
	// recorded before and has not expired. It must be atomic (two concurrent calls with the
	// same key: one true, one false) and durable across restarts for the proof lifetime.
	Remember(ctx context.Context, key []byte, expires time.Time) (fresh bool, err error)
}

// Config configures a Verifier.
type Config struct {
	// Replay records seen jti values; required.
	Replay ReplayCache
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MaxAge is how old a proof's iat may be; 60 s when zero.
	MaxAge time.Duration
	// Leeway is how far in the future iat may be (clock skew); 5 s when zero.
	Leeway time.Duration
	// Nonces, when set, makes every proof carry a current server nonce (RFC 9449 §8):
	// a proof without one fails with ErrNonce, and the server answers with a fresh nonce in
	// the DPoP-Nonce header.
	Nonces *Nonces
}

// Verifier checks DPoP proofs against the requests they come with. It is safe for
// concurrent use.
type Verifier struct {
	cfg Config
}

// NewVerifier returns a Verifier.
func NewVerifier(cfg Config) (*Verifier, error) {
	if cfg.Replay == nil {
		return nil, errors.New("dpop: a ReplayCache is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 60 * time.Second
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 5 * time.Second
	}
	return &Verifier{cfg: cfg}, nil
}

// Nonces returns the server nonces the verifier asks for, or nil.
func (v *Verifier) Nonces() *Nonces { return v.cfg.Nonces }

// Request is what a proof must match.
type Request struct {
	Method string // the HTTP method
	// URL is the request's URL as the client addressed it (the server's public base URL and
	// the request path); query and fragment are ignored, as in htu.
	URL string
	// AccessToken is the token sent with the proof in "Authorization: DPoP"; when set, ath
	// must be its hash. When empty (a token request, an enrolment), ath must be absent.
	AccessToken string
	// Thumbprint is the cnf.jkt the access token is bound to; when set, the proof's key must
	// have it. Empty accepts any key (the caller binds to Proof.Thumbprint).
	Thumbprint string
}

// Verify parses proof and checks it against r: signature (Parse), htm, htu, ath, the key
// binding, iat within [now-MaxAge, now+Leeway], the server nonce when configured and,
// only once everything else holds, that its jti is new (it is then remembered until it can
// no longer pass the iat check). Errors: those of Parse, ErrMethod, ErrURL, ErrTokenHash,
// ErrKeyBinding, ErrIssuedAt, ErrNonce, ErrReplay; any other error is the ReplayCache's.
func (v *Verifier) Verify(ctx context.Context, proof string, r Request) (*Proof, error) {
	p, err := Parse(proof)
	if err != nil {
		return nil, err
	}
	if p.Method != r.Method {
		return nil, fmt.Errorf("%w (proof for %q, request %q)", ErrMethod, p.Method, r.Method)
	}
	got, err1 := normalizeURL(p.URL)
	want, err2 := normalizeURL(r.URL)
	if err1 != nil || err2 != nil || got != want {
		return nil, fmt.Errorf("%w (proof for %q)", ErrURL, truncate(p.URL, 200))
	}
	if r.AccessToken != "" {
		if subtle.ConstantTimeCompare([]byte(p.TokenHash), []byte(TokenHash(r.AccessToken))) != 1 {
			return nil, ErrTokenHash
		}
	} else if p.TokenHash != "" {
		return nil, fmt.Errorf("%w: ath without an access token", ErrTokenHash)
	}
	if r.Thumbprint != "" && subtle.ConstantTimeCompare([]byte(p.Thumbprint), []byte(r.Thumbprint)) != 1 {
		return nil, ErrKeyBinding
	}
	now := v.cfg.Now()
	if p.IssuedAt.Before(now.Add(-v.cfg.MaxAge)) || p.IssuedAt.After(now.Add(v.cfg.Leeway)) {
		return nil, fmt.Errorf("%w (iat %s, now %s)", ErrIssuedAt, p.IssuedAt.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if v.cfg.Nonces != nil && !v.cfg.Nonces.Valid(p.Nonce) {
		return nil, ErrNonce
	}
	key := sha256.Sum256([]byte(p.Thumbprint + "\x00" + p.JTI))
	fresh, err := v.cfg.Replay.Remember(ctx, key[:], p.IssuedAt.Add(v.cfg.MaxAge+v.cfg.Leeway))
	if err != nil {
		return nil, fmt.Errorf("dpop: replay cache: %w", err)
	}
	if !fresh {
		return nil, ErrReplay
	}
	return p, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// normalizeURL reduces an http(s) URL to what htu compares: lower-case scheme and host,
// no default port, the path as sent ("/" when empty), no query or fragment.
func normalizeURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Host == "" || u.User != nil {
		return "", errors.New("not an http(s) URL")
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}

// Nonces makes and checks stateless server nonces: an HMAC over a time slot, valid during
// its slot and the next one. It is safe for concurrent use.
type Nonces struct {
	key    []byte
	period time.Duration
	now    func() time.Time
}

// NewNonces returns Nonces keyed with key (at least 32 bytes, kept secret) whose nonces live
// between one and two periods (5 minutes when period is zero).
func NewNonces(key []byte, period time.Duration, now func() time.Time) (*Nonces, error) {
	if len(key) < 32 {
		return nil, errors.New("dpop: nonce key must be at least 32 bytes")
	}
	if period <= 0 {
		period = 5 * time.Minute
	}
	if now == nil {
		now = time.Now
	}
	return &Nonces{key: key, period: period, now: now}, nil
}

func (n *Nonces) slot() uint64 { return uint64(n.now().Unix()) / uint64(n.period/time.Second) }

func (n *Nonces) make(slot uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], slot)
	m := hmac.New(sha256.New, n.key)
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(append(b[:], m.Sum(nil)[:16]...))
}

// Current returns the nonce clients should use now.
func (n *Nonces) Current() string { return n.make(n.slot()) }

// Valid reports whether nonce is the current or the previous slot's nonce.
func (n *Nonces) Valid(nonce string) bool {
	if nonce == "" {
		return false
	}
	s := n.slot()
	for _, slot := range []uint64{s, s - 1} {
		if hmac.Equal([]byte(nonce), []byte(n.make(slot))) {
			return true
		}
	}
	return false
}

// NewProof makes a DPoP proof signed with key (an Ed25519 or P-256 private key), with its
// public key in the jwk header: for method and url, the access token's hash when
// accessToken is not empty, nonce when not empty, the given iat and jti. Clients use it;
// tests use it to make good and bad proofs.
func NewProof(key crypto.Signer, method, url, accessToken, nonce string, iat time.Time, jti string) (string, error) {
	alg := jose.ES256
	if _, ok := key.Public().(ed25519.PublicKey); ok {
		alg = jose.EdDSA
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{EmbedJWK: true}).WithType(Type))
	if err != nil {
		return "", err
	}
	claims := map[string]any{"htm": method, "htu": url, "iat": iat.Unix(), "jti": jti}
	if accessToken != "" {
		claims["ath"] = TokenHash(accessToken)
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
