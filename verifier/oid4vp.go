package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/oid4vp"
	"github.com/ezheng/ezheng/internal/secret"
)

// The states of an OpenID4VP session.
const (
	// VPCreated: the request exists; no wallet has fetched its request object.
	VPCreated = "created"
	// VPFetched: a wallet fetched the request object (it can be fetched only once).
	VPFetched = "fetched"
	// VPVerified: the response verified and answered the query.
	VPVerified = "verified"
	// VPRejected: a response came and failed a check; Result says which.
	VPRejected = "rejected"
	// VPDeclined: the wallet answered with an error (the citizen declined, say).
	VPDeclined = "declined"
	// VPExpired: no response came in time (reported, never stored).
	VPExpired = "expired"
)

// Errors of OpenID4VP sessions.
var (
	// ErrRequestUsed is returned when a request object is fetched a second time.
	ErrRequestUsed = errors.New("request object already fetched")
	// ErrSessionDone is returned for a response to a session that already has one.
	ErrSessionDone = errors.New("session already answered")
	// ErrSessionExpired is returned for a fetch or response after the session expired.
	ErrSessionExpired = errors.New("session expired")
)

// VPSession is one OpenID4VP exchange of one online service. ID is the service's handle (poll
// it with the service's token); the public request id, state and nonce are never shown to the
// service.
type VPSession struct {
	ID string `json:"id"`
	// Service is the id of the relying party that created the session; only it reads it.
	Service   string          `json:"service_id"`
	RequestID string          `json:"-"`
	State     string          `json:"-"`
	Nonce     string          `json:"-"`
	ClientID  string          `json:"client_id"`
	Query     json.RawMessage `json:"dcql_query"`
	Policy    string          `json:"policy"`
	// ClientName is the service's registered name, shown to the citizen.
	ClientName string    `json:"client_name,omitempty"`
	Purpose    string    `json:"purpose,omitempty"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	// CompletedAt is when the response came, nil before.
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// Result is the outcome once a response came.
	Result *VPResult `json:"result,omitempty"`
	// SealedResult is Result as stored (sealed: it holds the disclosed claims).
	SealedResult []byte `json:"-"`
}

// VPResult is what a response to a session showed.
type VPResult struct {
	// Valid: every presentation verified and together they answer the query.
	Valid bool `json:"valid"`
	// Reason says why not, or the wallet's error code when it declined.
	Reason string `json:"reason,omitempty"`
	// Credentials are the verification results, one per presentation, with the claims
	// shown.
	Credentials []VPCredential `json:"credentials"`
}

// VPCredential is the verification of one presentation in a vp_token.
type VPCredential struct {
	// QueryID is the DCQL Credential Query it answers.
	QueryID string `json:"query_id"`
	Result  Result `json:"result"`
}

// VPStore keeps OpenID4VP sessions and the verifier's key. Implementation: verifierstore.
type VPStore interface {
	// CreateVPSession stores a new session.
	CreateVPSession(ctx context.Context, s VPSession) error
	// VPSession, VPSessionByRequest and VPSessionByState return ErrNotFound for none.
	VPSession(ctx context.Context, id string) (VPSession, error)
	VPSessionByRequest(ctx context.Context, requestID string) (VPSession, error)
	VPSessionByState(ctx context.Context, state string) (VPSession, error)
	// MarkVPFetched moves a created session to fetched; ErrRequestUsed when it is not in
	// state created.
	MarkVPFetched(ctx context.Context, id string) error
	// CompleteVPSession stores the outcome of a fetched session (status and sealed
	// result); ErrSessionDone when it is not in state fetched. It writes once.
	CompleteVPSession(ctx context.Context, id, status string, sealedResult []byte, at time.Time) error
	// VerifierKey returns the sealed key stored under name, storing sealed first if there is
	// none (so concurrent first starts agree on one key).
	VerifierKey(ctx context.Context, name string, sealed []byte) ([]byte, error)
}

// OpenID4VPConfig configures an OpenID4VP verifier.
type OpenID4VPConfig struct {
	// Verifier checks each presentation; required.
	Verifier *Service
	// Store keeps sessions; required.
	Store VPStore
	// RelyingParties keeps the online services allowed to create requests; required.
	RelyingParties RelyingPartyStore
	// Sealer seals the verifier's key and the session results at rest; required.
	Sealer *keys.Sealer
	// PublicURL is the base URL wallets reach the verifier at (no trailing slash); required.
	PublicURL string
	// TTL is how long a request stays answerable; 5 minutes when zero.
	TTL time.Duration
	// AllowLoopbackHTTP lets PublicURL be http on a loopback address (a local demo).
	AllowLoopbackHTTP bool
	Logger            *slog.Logger
	Now               func() time.Time
}

// OpenID4VP is the OpenID4VP 1.0 verifier: it creates signed requests for DCQL queries,
// serves each request object once, checks direct_post responses and keeps the outcome for
// the service that asked. It is safe for concurrent use.
type OpenID4VP struct {
	svc      *Service
	store    VPStore
	rps      RelyingPartyStore
	sealer   *keys.Sealer
	base     string
	ttl      time.Duration
	loopback bool
	log      *slog.Logger
	now      func() time.Time

	key      *keys.Key
	did, kid string

	mu   sync.Mutex
	subs map[string][]chan struct{}
}

// NewOpenID4VP loads the verifier's signing key (an Ed25519 key sealed in the store, made on
// first start) and returns the verifier. Its identity is the key's did:jwk, so any wallet can
// resolve it without a network.
func NewOpenID4VP(ctx context.Context, cfg OpenID4VPConfig) (*OpenID4VP, error) {
	if cfg.Verifier == nil || cfg.Store == nil || cfg.RelyingParties == nil || cfg.Sealer == nil || cfg.PublicURL == "" {
		return nil, errors.New("verifier: OpenID4VP needs Verifier, Store, RelyingParties, Sealer and PublicURL")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TTL == 0 {
		cfg.TTL = 5 * time.Minute
	}
	fresh, err := keys.Generate(keys.EdDSA, nil)
	if err != nil {
		return nil, err
	}
	const keyName = "oid4vp"
	aad := []byte("verifier/" + keyName)
	sealed, err := cfg.Sealer.SealKey(fresh, aad)
	if err != nil {
		return nil, err
	}
	if sealed, err = cfg.Store.VerifierKey(ctx, keyName, sealed); err != nil {
		return nil, fmt.Errorf("verifier key: %w", err)
	}
	key, err := cfg.Sealer.OpenKey(sealed, aad)
	if err != nil {
		return nil, fmt.Errorf("verifier key: %w", err)
	}
	d, kid, err := did.NewJWK(key.Public())
	if err != nil {
		return nil, err
	}
	return &OpenID4VP{svc: cfg.Verifier, store: cfg.Store, rps: cfg.RelyingParties, sealer: cfg.Sealer, base: strings.TrimRight(cfg.PublicURL, "/"),
		ttl: cfg.TTL, loopback: cfg.AllowLoopbackHTTP, log: cfg.Logger, now: cfg.Now,
		key: key, did: d, kid: kid, subs: map[string][]chan struct{}{}}, nil
}

// ClientID returns the verifier's Client Identifier: decentralized_identifier:<its did:jwk>.
func (o *OpenID4VP) ClientID() string { return oid4vp.ClientIDPrefixDID + o.did }

// DID returns the verifier's DID.
func (o *OpenID4VP) DID() string { return o.did }

func (o *OpenID4VP) parseOpts() []oid4vp.ParseOption {
	if o.loopback {
		return []oid4vp.ParseOption{oid4vp.AllowLoopbackHTTP()}
	}
	return nil
}

// VPRequest is what a service asks for. Give DCQLQuery, or Type and Claims (one credential
// of that type with those claims), or neither and Policy (its types and claims).
type VPRequest struct {
	DCQLQuery json.RawMessage `json:"dcql_query,omitempty"`
	// Type is a credential type name (DrivingLicence) or vct.
	Type   string   `json:"type,omitempty"`
	Claims []string `json:"claims,omitempty"`
	// Policy names the verification policy each presentation is checked under; "" for the
	// default.
	Policy string `json:"policy,omitempty"`
	// Purpose is shown to the citizen, beside the service's registered name (a request
	// cannot choose the name the citizen sees).
	Purpose string `json:"purpose,omitempty"`
}

// VPCreatedSession is a new session with what to show the citizen.
type VPCreatedSession struct {
	VPSession
	// RequestURI is where the wallet fetches the signed request object (once).
	RequestURI string `json:"request_uri"`
	// URI is the openid4vp:// link to open on the phone or show as a QR code.
	URI string `json:"uri"`
}

// ResponsePath and RequestPath are where the HTTP layer serves the response endpoint and
// request objects; the verifier builds its URLs from them.
const (
	ResponsePath = "/verifier/v1/oid4vp/response"
	RequestPath  = "/verifier/v1/oid4vp/requests/"
)

// CreateRequest makes a session of service rp (authenticated by AuthenticateService) for req:
// a DCQL query (validated), a fresh nonce and state, and the openid4vp:// link pointing at its
// request object, whose client_metadata names rp. Errors: ErrUnauthorized (a zero rp),
// ErrInvalidRequest (wrapping the oid4vp error), ErrUnknownPolicy.
func (o *OpenID4VP) CreateRequest(ctx context.Context, rp RelyingParty, req VPRequest) (VPCreatedSession, error) {
	if rp.ID == "" || rp.Name == "" {
		return VPCreatedSession{}, ErrUnauthorized
	}
	pol, err := o.svc.policies.Lookup(cmpOr(req.Policy, DefaultPolicy))
	if err != nil {
		return VPCreatedSession{}, err
	}
	q, err := o.query(req, pol)
	if err != nil {
		return VPCreatedSession{}, err
	}
	if len(req.Purpose) > 1000 {
		return VPCreatedSession{}, fmt.Errorf("%w: purpose too long", ErrInvalidRequest)
	}
	raw, err := oid4vp.MarshalQuery(q)
	if err != nil {
		return VPCreatedSession{}, err
	}
	now := o.now().UTC().Truncate(time.Second)
	s := VPSession{ID: secret.ID("vps"), Service: rp.ID, RequestID: secret.String(16), State: secret.String(16), Nonce: secret.String(16),
		ClientID: o.ClientID(), Query: raw, Policy: pol.Name, ClientName: rp.Name, Purpose: req.Purpose,
		Status: VPCreated, CreatedAt: now, ExpiresAt: now.Add(o.ttl)}
	link, err := oid4vp.EncodeRequestURI(oid4vp.RequestLink{ClientID: s.ClientID, RequestURI: o.requestURI(s)}, o.parseOpts()...)
	if err != nil {
		return VPCreatedSession{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if err := o.store.CreateVPSession(ctx, s); err != nil {
		return VPCreatedSession{}, fmt.Errorf("create session: %w", err)
	}
	o.log.InfoContext(ctx, "openid4vp request created", "session", s.ID, "service", rp.ID, "policy", s.Policy)
	return VPCreatedSession{VPSession: s, RequestURI: o.requestURI(s), URI: link}, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (o *OpenID4VP) requestURI(s VPSession) string { return o.base + RequestPath + s.RequestID }

// query builds the DCQL query of req.
func (o *OpenID4VP) query(req VPRequest, pol *Policy) (*oid4vp.Query, error) {
	if len(req.DCQLQuery) > 0 {
		if req.Type != "" || len(req.Claims) > 0 {
			return nil, fmt.Errorf("%w: give dcql_query or type and claims, not both", ErrInvalidRequest)
		}
		q, err := oid4vp.ParseQuery(req.DCQLQuery)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
		return q, nil
	}
	types, claims := pol.Types, pol.Disclose
	if req.Type != "" {
		types, claims = []string{req.Type}, req.Claims
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("%w: say what to ask for: dcql_query, type and claims, or a policy with types", ErrInvalidRequest)
	}
	cq := oid4vp.CredentialQuery{ID: "credential", Format: oid4vp.FormatSDJWTVC}
	for _, t := range types {
		vct := t
		if ct, err := o.svc.types.Lookup(t); err == nil {
			vct = ct.VCT
		}
		cq.Meta.VCTValues = append(cq.Meta.VCTValues, vct)
	}
	for _, c := range claims {
		cq.Claims = append(cq.Claims, oid4vp.ClaimQuery{Path: []any{c}})
	}
	q := &oid4vp.Query{Credentials: []oid4vp.CredentialQuery{cq}}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return q, nil
}

// RequestObject returns the signed request object of the session whose public request id is
// requestID, once: the first fetch moves the session to fetched. Errors: ErrNotFound,
// ErrRequestUsed, ErrSessionExpired.
func (o *OpenID4VP) RequestObject(ctx context.Context, requestID string) (string, error) {
	s, err := o.store.VPSessionByRequest(ctx, requestID)
	if err != nil {
		return "", err
	}
	now := o.now().UTC()
	if !now.Before(s.ExpiresAt) {
		return "", ErrSessionExpired
	}
	if s.Status != VPCreated {
		return "", ErrRequestUsed
	}
	var q oid4vp.Query
	if err := json.Unmarshal(s.Query, &q); err != nil {
		return "", fmt.Errorf("session %s: stored query: %w", s.ID, err)
	}
	ar := oid4vp.AuthorizationRequest{
		ClientID: s.ClientID, ResponseType: oid4vp.ResponseTypeVPToken, ResponseMode: oid4vp.ResponseModeDirectPost,
		ResponseURI: o.base + ResponsePath, Nonce: s.Nonce, State: s.State, DCQLQuery: &q,
		ClientMetadata: &oid4vp.ClientMetadata{ClientName: s.ClientName, Purpose: s.Purpose, VPFormatsSupported: map[string]oid4vp.FormatAlgs{
			oid4vp.FormatSDJWTVC: {SDJWTAlgs: []string{"EdDSA", "ES256"}, KBJWTAlgs: []string{"EdDSA", "ES256"}}}},
		IssuedAt: now.Unix(), ExpiresAt: s.ExpiresAt.Unix(),
	}
	jwt, err := oid4vp.SignRequestObject(ar, o.key.Signer(), o.kid, o.parseOpts()...)
	if err != nil {
		return "", err
	}
	if err := o.store.MarkVPFetched(ctx, s.ID); err != nil {
		return "", err
	}
	o.notify(s.ID)
	return jwt, nil
}

// VPAck is the verifier's answer to a direct_post response (section 8.2): empty, or a
// redirect_uri for the wallet to open.
type VPAck struct {
	RedirectURI string `json:"redirect_uri,omitempty"`
}

// Respond takes a direct_post response (its form parameters), finds the session by state,
// verifies every presentation with the session's nonce and the verifier's client_id as
// audience, checks that they answer the session's DCQL query, and stores the outcome, once.
// A response that fails a check is stored as rejected with the reason and answered
// normally; a wallet's error response is stored as declined.
//
// Errors (nothing is stored): ErrInvalidRequest (wrapping oid4vp.ErrMalformed or
// oid4vp.ErrTooLarge: a malformed or oversized response, or no state), ErrNotFound (no
// session has that state), ErrSessionDone, ErrSessionExpired.
func (o *OpenID4VP) Respond(ctx context.Context, form url.Values) (VPAck, error) {
	resp, err := oid4vp.ParseResponse(form)
	if err != nil {
		return VPAck{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if resp.State == "" {
		return VPAck{}, fmt.Errorf("%w: state missing", ErrInvalidRequest)
	}
	s, err := o.store.VPSessionByState(ctx, resp.State)
	if err != nil {
		return VPAck{}, err
	}
	now := o.now().UTC()
	switch {
	case s.Status == VPCreated:
		return VPAck{}, fmt.Errorf("%w: the session's request object was never fetched", ErrInvalidRequest)
	case s.Status != VPFetched:
		return VPAck{}, ErrSessionDone
	case !now.Before(s.ExpiresAt):
		return VPAck{}, ErrSessionExpired
	}
	var res VPResult
	status := VPRejected
	if resp.Error != "" {
		status, res.Reason = VPDeclined, resp.Error
	} else {
		if res, err = o.check(ctx, s, resp.VPToken); err != nil {
			return VPAck{}, err
		}
		if res.Valid {
			status = VPVerified
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return VPAck{}, err
	}
	if err := o.store.CompleteVPSession(ctx, s.ID, status, o.sealer.Seal(b, []byte(s.ID)), now.Truncate(time.Second)); err != nil {
		return VPAck{}, err
	}
	o.log.InfoContext(ctx, "openid4vp response", "session", s.ID, "status", status)
	o.notify(s.ID)
	return VPAck{}, nil
}

// check verifies a vp_token against session s. Faults are errors; failed checks are a
// result with Valid false.
func (o *OpenID4VP) check(ctx context.Context, s VPSession, token map[string][]string) (VPResult, error) {
	var q oid4vp.Query
	if err := json.Unmarshal(s.Query, &q); err != nil {
		return VPResult{}, fmt.Errorf("session %s: stored query: %w", s.ID, err)
	}
	res := VPResult{Valid: true, Credentials: []VPCredential{}}
	presented := map[string][]oid4vp.Candidate{}
	fail := func(reason string) {
		if res.Valid {
			res.Valid, res.Reason = false, reason
		}
	}
	for _, cq := range q.Credentials {
		for _, p := range token[cq.ID] {
			r, err := o.svc.Verify(ctx, p, Options{Audience: s.ClientID, Nonce: s.Nonce, Policy: s.Policy, NoRecord: true})
			if errors.Is(err, ErrNotPresentation) {
				fail(fmt.Sprintf("%s: %v", cq.ID, err))
				continue
			}
			if err != nil {
				return VPResult{}, err
			}
			rec := NewRecord(r) // the record names the service that asked
			rec.Service = s.Service
			if err := o.svc.saveRecord(ctx, rec); err != nil {
				return VPResult{}, err
			}
			res.Credentials = append(res.Credentials, VPCredential{QueryID: cq.ID, Result: r})
			if !r.Valid {
				fail(fmt.Sprintf("%s: failed checks %v", cq.ID, r.Failed()))
				continue
			}
			if hb, _ := r.Check(CheckHolderBinding); (!hb.OK || hb.Skipped) && (cq.RequireCryptographicHolderBinding == nil || *cq.RequireCryptographicHolderBinding) {
				fail(cq.ID + ": no key binding to this request")
				continue
			}
			presented[cq.ID] = append(presented[cq.ID], oid4vp.Candidate{Format: r.Format, VCT: r.Type, Claims: r.Claims})
		}
	}
	for id := range token {
		if !containsQuery(q, id) {
			fail(fmt.Sprintf("vp_token answers %q, which was not asked", id))
		}
	}
	if res.Valid {
		if err := q.CheckPresented(presented); err != nil {
			fail(err.Error())
		}
	}
	return res, nil
}

func containsQuery(q oid4vp.Query, id string) bool {
	for _, cq := range q.Credentials {
		if cq.ID == id {
			return true
		}
	}
	return false
}

// Session returns session id of service rp with its result (opened) and, past its expiry
// without a response, status expired. Errors: ErrNotFound, also for another service's session
// (so a session id is not confirmed to anyone but its owner).
func (o *OpenID4VP) Session(ctx context.Context, rp RelyingParty, id string) (VPSession, error) {
	s, err := o.store.VPSession(ctx, id)
	if err != nil {
		return VPSession{}, err
	}
	if rp.ID == "" || s.Service != rp.ID {
		return VPSession{}, ErrNotFound
	}
	if len(s.SealedResult) > 0 {
		b, err := o.sealer.Open(s.SealedResult, []byte(s.ID))
		if err != nil {
			return VPSession{}, fmt.Errorf("session %s: %w", s.ID, err)
		}
		s.Result = &VPResult{}
		if err := json.Unmarshal(b, s.Result); err != nil {
			return VPSession{}, fmt.Errorf("session %s: %w", s.ID, err)
		}
	}
	if (s.Status == VPCreated || s.Status == VPFetched) && !o.now().Before(s.ExpiresAt) {
		s.Status = VPExpired
	}
	return s, nil
}

// Done reports whether a session's status is final.
func (s VPSession) Done() bool {
	return s.Status == VPVerified || s.Status == VPRejected || s.Status == VPDeclined || s.Status == VPExpired
}

// Subscribe returns a channel that receives a value whenever session id changes, and a
// function to call when done listening. Updates are coalesced: the listener re-reads the
// session.
func (o *OpenID4VP) Subscribe(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	o.mu.Lock()
	o.subs[id] = append(o.subs[id], ch)
	o.mu.Unlock()
	return ch, func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		list := o.subs[id]
		for i, c := range list {
			if c == ch {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(o.subs, id)
		} else {
			o.subs[id] = list
		}
	}
}

func (o *OpenID4VP) notify(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ch := range o.subs[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
