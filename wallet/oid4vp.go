package wallet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/oid4vp"
	"github.com/ezheng/ezheng/internal/sdjwt"
)

// Errors of sharing through OpenID4VP.
var (
	// ErrShareRequest is returned for a presentation request that cannot be used: a
	// malformed or insecure link, a request object that cannot be fetched or parsed, or an
	// unsupported request.
	ErrShareRequest = errors.New("presentation request cannot be used")
	// ErrVerifierIdentity is returned when the request object's signature or the verifier's
	// identity does not check out (tampered, signed by another key, another client_id,
	// expired): the wallet must not answer it.
	ErrVerifierIdentity = errors.New("the verifier's signature or identity does not check out")
	// ErrCannotSatisfy is returned when the citizen holds no credentials that answer the
	// request, or the app chose a credential that does not.
	ErrCannotSatisfy = errors.New("the wallet holds no credentials that answer the request")
	// ErrShareRefused is returned when the verifier refused the response.
	ErrShareRefused = errors.New("the verifier refused the response")
)

// ShareRequest is a verified OpenID4VP request, as the app shows it on the consent screen.
type ShareRequest struct {
	// Request is the verified request object: send it back unchanged to share or decline
	// (the request_uri can be fetched only once).
	Request string `json:"request"`
	// Verifier is who asks, as verified: the signature of the request object checks out
	// against a key of the verifier's DID.
	Verifier VerifierIdentity `json:"verifier"`
	// Purpose says why the verifier asks (client_metadata.purpose), "" if it did not say.
	Purpose string `json:"purpose,omitempty"`
	// Satisfiable reports whether the citizen's credentials answer the request.
	Satisfiable bool `json:"satisfiable"`
	// Credentials are, per DCQL Credential Query the wallet would answer, the citizen's
	// credentials that fit and the claims each would disclose.
	Credentials []ShareQuery `json:"credentials"`
	// Unsatisfied names what the citizen cannot answer.
	Unsatisfied []string  `json:"unsatisfied,omitempty"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// VerifierIdentity is the verified identity of a verifier.
type VerifierIdentity struct {
	// ClientID is the verifier's Client Identifier (decentralized_identifier:<did>).
	ClientID string `json:"client_id"`
	// DID is the verifier's DID and KeyID the key that signed the request.
	DID   string `json:"did"`
	KeyID string `json:"kid"`
	// Name is the verifier's name (client_metadata.client_name); it is the verifier's own
	// claim, while DID is proven.
	Name string `json:"name,omitempty"`
	// ResponseHost is where the answer goes.
	ResponseHost string `json:"response_host"`
}

// ShareQuery is one DCQL Credential Query and the credentials that answer it.
type ShareQuery struct {
	QueryID string        `json:"query_id"`
	Options []ShareOption `json:"options"`
}

// ShareOption is a credential that answers a query.
type ShareOption struct {
	CredentialID string `json:"credential_id"`
	Type         string `json:"type"`
	Issuer       string `json:"issuer"`
	// Claims are the claims asked for; Disclose the selectively disclosable ones among them
	// that a presentation reveals (the rest are shown by every presentation).
	Claims   []string `json:"claims"`
	Disclose []string `json:"disclose"`
}

// ShareResult is what sharing did.
type ShareResult struct {
	Verifier VerifierIdentity   `json:"verifier"`
	Shared   []SharedCredential `json:"shared"`
	// RedirectURI is where the verifier wants the citizen next, "" if nowhere.
	RedirectURI string `json:"redirect_uri,omitempty"`
}

// SharedCredential is one presentation sent.
type SharedCredential struct {
	QueryID      string   `json:"query_id"`
	CredentialID string   `json:"credential_id"`
	Type         string   `json:"type"`
	Disclosed    []string `json:"disclosed"`
}

// maxShareResponse bounds what the wallet reads from a verifier.
const maxShareResponse = 64 << 10

func (s *Service) vpOptions() []oid4vp.ParseOption {
	if s.allowLoopback {
		return []oid4vp.ParseOption{oid4vp.AllowLoopbackHTTP()}
	}
	return nil
}

// OpenShareRequest accepts an OpenID4VP request for citizen c (an openid4vp:// link or the
// text of its QR code): it fetches the signed request object from the link's request_uri,
// verifies its signature with the key its kid names in the verifier's DID and that its
// client_id is the link's, and evaluates its DCQL query against c's credentials. Nothing is
// sent to the verifier beyond the fetch. Errors: ErrShareRequest, ErrVerifierIdentity.
func (s *Service) OpenShareRequest(ctx context.Context, c Citizen, link string) (ShareRequest, error) {
	l, err := oid4vp.ParseRequestURI(link, s.vpOptions()...)
	if err != nil {
		return ShareRequest{}, fmt.Errorf("%w: %v", ErrShareRequest, err)
	}
	jwt, err := s.fetchRequestObject(ctx, l.RequestURI)
	if err != nil {
		return ShareRequest{}, err
	}
	req, err := s.verifyRequestObject(ctx, jwt, l.ClientID)
	if err != nil {
		return ShareRequest{}, err
	}
	ev, creds, err := s.evaluate(ctx, c, req.DCQLQuery)
	if err != nil {
		return ShareRequest{}, err
	}
	out := ShareRequest{Request: jwt, Verifier: identity(req, jwt), Satisfiable: ev.Satisfied, Unsatisfied: ev.Unsatisfied,
		Credentials: []ShareQuery{}, ExpiresAt: time.Unix(req.ExpiresAt, 0).UTC()}
	if req.ClientMetadata != nil {
		out.Purpose = req.ClientMetadata.Purpose
	}
	for _, id := range ev.Selected {
		q := ShareQuery{QueryID: id, Options: []ShareOption{}}
		for _, m := range ev.Matches[id] {
			cr := creds[m.CredentialID]
			q.Options = append(q.Options, ShareOption{CredentialID: m.CredentialID, Type: cr.Type, Issuer: cr.Issuer, Claims: m.Claims, Disclose: m.Disclose})
		}
		out.Credentials = append(out.Credentials, q)
	}
	s.log.InfoContext(ctx, "presentation request opened", "citizen", c.ID, "verifier", out.Verifier.DID, "satisfiable", ev.Satisfied)
	return out, nil
}

// Share answers a request OpenShareRequest returned (its Request) on the consent of the
// session's citizen: for each Credential Query to answer it presents the credential choose
// names for it (or the first that fits), disclosing only the claims asked for, with a
// key-binding JWT for the request's nonce and the verifier's client_id as audience, and posts
// the vp_token to the verifier (direct_post).
//
// A credential bound to a holder key on the phone cannot be signed for here: when one is
// among those to present, Share sends nothing and returns a *ShareSigning instead of a
// result — the KB-JWTs the phone must sign, for CompleteShare, which sends the response. The
// wallet-held ones are signed at once either way. Errors: ErrShareRequest,
// ErrVerifierIdentity, ErrCannotSatisfy, ErrNotBound (a credential bound to a removed holder
// key), ErrShareRefused; nothing is sent when Share fails before posting.
func (s *Service) Share(ctx context.Context, sess Session, requestObject string, choose map[string]string) (ShareResult, *ShareSigning, error) {
	c := sess.Citizen
	req, err := s.reverify(ctx, requestObject)
	if err != nil {
		return ShareResult{}, nil, err
	}
	ev, creds, err := s.evaluate(ctx, c, req.DCQLQuery)
	if err != nil {
		return ShareResult{}, nil, err
	}
	if !ev.Satisfied {
		return ShareResult{}, nil, fmt.Errorf("%w: nothing answers %v", ErrCannotSatisfy, ev.Unsatisfied)
	}
	for qid := range choose {
		if !slices.Contains(ev.Selected, qid) {
			return ShareResult{}, nil, fmt.Errorf("%w: the request does not ask %q", ErrCannotSatisfy, qid)
		}
	}
	now := s.now().UTC().Truncate(time.Second)
	res := ShareResult{Verifier: identity(req, requestObject), Shared: []SharedCredential{}}
	token := map[string]string{}
	var signer jose.Signer
	var onPhone []shareOnPhone
	for _, qid := range ev.Selected {
		m, ok := pick(ev.Matches[qid], choose[qid])
		if !ok {
			return ShareResult{}, nil, fmt.Errorf("%w: credential %q does not answer %q", ErrCannotSatisfy, choose[qid], qid)
		}
		cr, err := s.Credential(ctx, c, m.CredentialID)
		if err != nil {
			return ShareResult{}, nil, err
		}
		hk, onDevice, err := s.credentialKey(ctx, c, cr.Raw)
		if err != nil {
			return ShareResult{}, nil, fmt.Errorf("present %s: %w", cr.ID, err)
		}
		var p string
		if onDevice {
			// Only the disclosures now: the phone signs the KB-JWT (CompleteShare).
			if p, err = sdjwt.Present(cr.Raw, m.Disclose, nil, "", "", now); err != nil {
				return ShareResult{}, nil, fmt.Errorf("present %s: %w", cr.ID, err)
			}
			onPhone = append(onPhone, shareOnPhone{QueryID: qid, CredentialID: cr.ID, Disclosed: m.Disclose, Key: hk})
		} else {
			if signer == nil {
				if signer, err = s.walletKBSigner(ctx, c); err != nil {
					return ShareResult{}, nil, err
				}
			}
			if p, err = sdjwt.Present(cr.Raw, m.Disclose, signer, req.ClientID, req.Nonce, now); err != nil {
				return ShareResult{}, nil, fmt.Errorf("present %s: %w", cr.ID, err)
			}
		}
		token[qid] = p
		res.Shared = append(res.Shared, SharedCredential{QueryID: qid, CredentialID: cr.ID, Type: creds[cr.ID].Type, Disclosed: m.Disclose})
	}
	if len(onPhone) > 0 {
		sig, err := s.startShareSigning(ctx, sess, req, requestObject, res, token, onPhone, creds, now)
		if err != nil {
			return ShareResult{}, nil, err
		}
		return ShareResult{}, &sig, nil
	}
	res, err = s.sendShare(ctx, c, req, res, token, creds, now)
	return res, nil, err
}

// walletKBSigner signs key-binding JWTs with c's wallet-held holder key.
func (s *Service) walletKBSigner(ctx context.Context, c Citizen) (jose.Signer, error) {
	key, err := s.holderKey(ctx, c)
	if err != nil {
		return nil, err
	}
	return sdjwt.NewSigner(key.Signer(), sdjwt.TypeKB, "")
}

// sendShare posts the presentations in token (one per query id) to the verifier of req,
// records what was shared in c's history (at), and returns res with the verifier's
// redirect_uri. Errors: ErrShareRefused.
func (s *Service) sendShare(ctx context.Context, c Citizen, req *oid4vp.AuthorizationRequest, res ShareResult, token map[string]string,
	creds map[string]Credential, at time.Time) (ShareResult, error) {
	vp := map[string][]string{}
	for qid, p := range token {
		vp[qid] = []string{p}
	}
	body, err := (&oid4vp.Response{VPToken: vp, State: req.State}).Encode()
	if err != nil {
		return ShareResult{}, err
	}
	res.RedirectURI, err = s.postResponse(ctx, req.ResponseURI, body)
	s.recordShare(ctx, c, req, res, creds, at, err)
	if err != nil {
		return ShareResult{}, err
	}
	s.log.InfoContext(ctx, "presentation shared", "citizen", c.ID, "verifier", res.Verifier.DID, "credentials", len(res.Shared))
	return res, nil
}

// DeclineShare tells the verifier that c declined the request (error access_denied).
// Errors: ErrShareRequest, ErrVerifierIdentity, ErrShareRefused.
func (s *Service) DeclineShare(ctx context.Context, c Citizen, requestObject string) error {
	req, err := s.reverify(ctx, requestObject)
	if err != nil {
		return err
	}
	body, err := (&oid4vp.Response{Error: oid4vp.ErrorAccessDenied, State: req.State}).Encode()
	if err != nil {
		return err
	}
	_, err = s.postResponse(ctx, req.ResponseURI, body)
	if err == nil {
		s.log.InfoContext(ctx, "presentation declined", "citizen", c.ID, "verifier", req.ClientID)
		s.recordShare(ctx, c, req, ShareResult{Verifier: identity(req, requestObject)}, nil, s.now().UTC(), nil)
	}
	return err
}

// recordShare adds what Share sent (or that the citizen declined, when res.Shared is empty)
// to c's history. The verifier's 200 says only that it received the response, so a sent
// presentation is recorded as presented; postErr marks it failed. A failure to record is
// logged: the presentation has left the wallet either way.
func (s *Service) recordShare(ctx context.Context, c Citizen, req *oid4vp.AuthorizationRequest, res ShareResult, creds map[string]Credential, at time.Time, postErr error) {
	base := PresentationRecord{At: at, Channel: ChannelOpenID4VP, Audience: req.ClientID, Verifier: res.Verifier.Name}
	if req.ClientMetadata != nil {
		base.Purpose = req.ClientMetadata.Purpose
	}
	var recs []PresentationRecord
	if len(res.Shared) == 0 {
		r := base
		r.Claims, r.Result = []string{}, ResultDeclined
		recs = append(recs, r)
	}
	for _, sh := range res.Shared {
		r := base
		r.CredentialID, r.CredentialType, r.Issuer, r.Claims = sh.CredentialID, sh.Type, creds[sh.CredentialID].Issuer, slices.Clone(sh.Disclosed)
		r.Result = ResultPresented
		if postErr != nil {
			r.Result, r.ResultDetail = ResultFailed, truncate(postErr.Error(), 500)
		}
		recs = append(recs, r)
	}
	for _, r := range recs {
		if _, err := s.RecordPresentation(ctx, c, r); err != nil {
			s.log.WarnContext(ctx, "recording a presentation failed", "citizen", c.ID, "err", err)
		}
	}
}

func pick(ms []oid4vp.Match, want string) (oid4vp.Match, bool) {
	for _, m := range ms {
		if want == "" || m.CredentialID == want {
			return m, true
		}
	}
	return oid4vp.Match{}, false
}

func identity(req *oid4vp.AuthorizationRequest, jwt string) VerifierIdentity {
	d, _ := oid4vp.ClientDID(req.ClientID)
	v := VerifierIdentity{ClientID: req.ClientID, DID: d}
	if obj, err := jose.ParseSigned(jwt, oid4vp.Algs); err == nil && len(obj.Signatures) == 1 {
		v.KeyID = obj.Signatures[0].Protected.KeyID
	}
	if req.ClientMetadata != nil {
		v.Name = req.ClientMetadata.ClientName
	}
	if u, err := url.Parse(req.ResponseURI); err == nil {
		v.ResponseHost = u.Host
	}
	return v
}

// reverify checks a request object the app sends back: the same checks as when it was
// opened, against the client_id it names.
func (s *Service) reverify(ctx context.Context, jwt string) (*oid4vp.AuthorizationRequest, error) {
	clientID, err := oid4vp.PeekClientID(jwt)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrShareRequest, err)
	}
	return s.verifyRequestObject(ctx, jwt, clientID)
}

func (s *Service) verifyRequestObject(ctx context.Context, jwt, clientID string) (*oid4vp.AuthorizationRequest, error) {
	resolve := func(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
		k, err := did.ResolveKey(ctx, s.resolver, kid, did.Authentication)
		if err != nil && did.IsUnresolvable(err) {
			k, err = did.ResolveKey(ctx, s.resolver, kid, did.AssertionMethod)
		}
		return k, err
	}
	req, err := oid4vp.ParseRequestObject(ctx, jwt, oid4vp.VerifyOptions{ClientID: clientID, Now: s.now(), Resolve: resolve}, s.vpOptions()...)
	switch {
	case errors.Is(err, oid4vp.ErrClient):
		return nil, fmt.Errorf("%w: %v", ErrVerifierIdentity, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrShareRequest, err)
	}
	return req, nil
}

// evaluate matches q against c's SD-JWT VC credentials, returning them by id too.
func (s *Service) evaluate(ctx context.Context, c Citizen, q *oid4vp.Query) (oid4vp.Evaluation, map[string]Credential, error) {
	list, err := s.store.Credentials(ctx, c.ID)
	if err != nil {
		return oid4vp.Evaluation{}, nil, err
	}
	byID := map[string]Credential{}
	var cands []oid4vp.Candidate
	for _, meta := range list {
		if meta.Format != oid4vp.FormatSDJWTVC {
			continue
		}
		if !meta.ExpiresAt.IsZero() && !s.now().Before(meta.ExpiresAt) {
			continue
		}
		cr, err := s.Credential(ctx, c, meta.ID)
		if err != nil {
			return oid4vp.Evaluation{}, nil, err
		}
		sd, err := sdjwt.Parse(cr.Raw)
		if err != nil {
			continue // checked when received; skip rather than fail the whole request
		}
		claims := map[string]any{}
		for k, v := range sd.Payload {
			if k != "_sd" && k != "_sd_alg" && k != "cnf" {
				claims[k] = v
			}
		}
		var disclosable []string
		for _, d := range sd.Disclosures {
			claims[d.Name] = d.Value
			disclosable = append(disclosable, d.Name)
		}
		byID[meta.ID] = meta
		cands = append(cands, oid4vp.Candidate{ID: meta.ID, Format: meta.Format, VCT: meta.Type, Claims: claims, Disclosable: disclosable})
	}
	return q.Evaluate(cands), byID, nil
}

func (s *Service) fetchRequestObject(ctx context.Context, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrShareRequest, err)
	}
	req.Header.Set("Accept", oid4vp.ContentTypeRequestObject)
	resp, err := s.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: fetch request object: %v", ErrShareRequest, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, oid4vp.MaxRequestObjectSize+1))
	if err != nil {
		return "", fmt.Errorf("%w: fetch request object: %v", ErrShareRequest, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: request_uri answered HTTP %d", ErrShareRequest, resp.StatusCode)
	}
	if len(b) > oid4vp.MaxRequestObjectSize {
		return "", fmt.Errorf("%w: request object larger than %d bytes", ErrShareRequest, oid4vp.MaxRequestObjectSize)
	}
	return strings.TrimSpace(string(b)), nil
}

// postResponse posts a form body to the response_uri and returns the redirect_uri of a 200
// answer.
func (s *Service) postResponse(ctx context.Context, u, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrShareRequest, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: post response: %v", ErrShareRefused, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxShareResponse))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrShareRefused, err)
	}
	if resp.StatusCode != http.StatusOK {
		var p struct {
			Type   string `json:"type"`
			Detail string `json:"detail"`
			Error  string `json:"error"`
		}
		json.Unmarshal(b, &p)
		return "", fmt.Errorf("%w: HTTP %d %s%s %s", ErrShareRefused, resp.StatusCode, p.Type, p.Error, p.Detail)
	}
	var ack struct {
		RedirectURI string `json:"redirect_uri"`
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &ack); err != nil {
			return "", fmt.Errorf("%w: answer is not JSON: %v", ErrShareRefused, err)
		}
	}
	return ack.RedirectURI, nil
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
