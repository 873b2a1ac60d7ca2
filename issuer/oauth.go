package issuer

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ezheng/ezheng/internal/secret"
)

// OAuth 2.0 client credentials (RFC 6749 §4.4): an agency registers confidential clients for
// its back-end systems; a client trades its id and secret for a short-lived access token that
// authenticates as the agency wherever an API token does (Authenticate).

// Errors of the client credentials grant.
var (
	// ErrInvalidClient means client authentication failed: unknown or revoked client, or a
	// wrong secret (RFC 6749 §5.2 invalid_client). Which one is not said.
	ErrInvalidClient = errors.New("client authentication failed")
	// ErrClientsDisabled means the service has no ClientStore.
	ErrClientsDisabled = errors.New("issuer: OAuth clients are not configured")
)

// AccessTokenLifetime is how long a client credentials access token is valid.
const AccessTokenLifetime = time.Hour

// Token prefixes: Authenticate tells an OAuth access token from an API token by its prefix.
const (
	accessTokenPrefix  = "ezat"
	clientSecretPrefix = "ezcs"
)

// Client is an agency's OAuth 2.0 client as stored: never its secret, only the secret's hash.
type Client struct {
	ID         string    `json:"client_id"`
	AgencyID   string    `json:"agency_id"`
	SecretHash []byte    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
}

// ClientSecret is a newly created client with its secret, shown once.
type ClientSecret struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// LogValue keeps the secret out of logs.
func (c ClientSecret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", c.ClientID), slog.String("client_secret", "REDACTED"))
}

// AccessToken is the answer to a client credentials grant (RFC 6749 §5.1).
type AccessToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"` // always "Bearer"
	ExpiresIn   int64  `json:"expires_in"` // seconds
}

// LogValue keeps the token out of logs.
func (t AccessToken) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_token", "REDACTED"), slog.Int64("expires_in", t.ExpiresIn))
}

// ClientStore keeps OAuth clients and their access tokens. Implementations: issuerstore.
type ClientStore interface {
	// CreateClient saves a new client.
	CreateClient(ctx context.Context, c Client) error
	// Client returns a client that is not revoked, or ErrNotFound.
	Client(ctx context.Context, id string) (Client, error)
	// RevokeClient marks the agency's client revoked at at and deletes its access tokens, in
	// one transaction. It returns ErrNotFound if the agency has no such live client.
	RevokeClient(ctx context.Context, agencyID, id string, at time.Time) error
	// AddAccessToken stores the hash of an access token of the client, valid until expires.
	AddAccessToken(ctx context.Context, clientID string, tokenHash []byte, created, expires time.Time) error
	// AgencyByAccessToken returns the agency owning the access token hash if the token is
	// unexpired at now and its client not revoked, or ErrNotFound.
	AgencyByAccessToken(ctx context.Context, tokenHash []byte, now time.Time) (Agency, error)
}

// CreateClient registers a new OAuth client for agency a and returns its id and secret. Only
// the secret's hash is stored: the caller must hand the secret over once and keep no copy.
// Errors: ErrClientsDisabled.
func (s *Service) CreateClient(ctx context.Context, a Agency) (ClientSecret, error) {
	if s.clients == nil {
		return ClientSecret{}, ErrClientsDisabled
	}
	sec, hash := secret.Token(clientSecretPrefix)
	c := Client{ID: secret.ID("client"), AgencyID: a.ID, SecretHash: hash, CreatedAt: s.now().UTC().Truncate(time.Second)}
	if err := s.clients.CreateClient(ctx, c); err != nil {
		return ClientSecret{}, fmt.Errorf("create client: %w", err)
	}
	s.audit(ctx, s.auditEntry(a, AuditClientCreate, c.ID, "", nil))
	s.log.InfoContext(ctx, "oauth client created", "agency", a.ID, "client", c.ID)
	return ClientSecret{ClientID: c.ID, ClientSecret: sec}, nil
}

// DeleteClient revokes agency a's client id and every access token it was given. Errors:
// ErrNotFound if a has no such client (another agency's client is not found either),
// ErrClientsDisabled.
func (s *Service) DeleteClient(ctx context.Context, a Agency, id string) error {
	if s.clients == nil {
		return ErrClientsDisabled
	}
	if err := s.clients.RevokeClient(ctx, a.ID, id, s.now().UTC()); err != nil {
		return err
	}
	s.audit(ctx, s.auditEntry(a, AuditClientDelete, id, "", nil))
	s.log.InfoContext(ctx, "oauth client revoked", "agency", a.ID, "client", id)
	return nil
}

// ClientToken grants an access token to the client authenticated by id and secret (the
// client credentials grant). Errors: ErrInvalidClient, ErrClientsDisabled.
func (s *Service) ClientToken(ctx context.Context, id, clientSecret string) (AccessToken, error) {
	if s.clients == nil {
		return AccessToken{}, ErrClientsDisabled
	}
	hash := secret.Hash(clientSecret)
	if hash == nil || id == "" || len(id) > secret.MaxTokenLen {
		return AccessToken{}, ErrInvalidClient
	}
	c, err := s.clients.Client(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return AccessToken{}, ErrInvalidClient
	}
	if err != nil {
		return AccessToken{}, err
	}
	if subtle.ConstantTimeCompare(c.SecretHash, hash) != 1 {
		s.log.DebugContext(ctx, "oauth client secret wrong", "client", id)
		return AccessToken{}, ErrInvalidClient
	}
	tok, tokHash := secret.Token(accessTokenPrefix)
	now := s.now().UTC()
	if err := s.clients.AddAccessToken(ctx, c.ID, tokHash, now, now.Add(AccessTokenLifetime)); err != nil {
		return AccessToken{}, fmt.Errorf("add access token: %w", err)
	}
	return AccessToken{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(AccessTokenLifetime / time.Second)}, nil
}

// authenticateAccessToken returns the agency owning an unexpired OAuth access token whose
// client is live, or ErrUnauthorized.
func (s *Service) authenticateAccessToken(ctx context.Context, token string) (Agency, error) {
	hash := secret.Hash(token)
	if s.clients == nil || hash == nil {
		return Agency{}, ErrUnauthorized
	}
	a, err := s.clients.AgencyByAccessToken(ctx, hash, s.now().UTC())
	if errors.Is(err, ErrNotFound) {
		return Agency{}, ErrUnauthorized
	}
	return a, err
}

// isAccessToken reports whether token has the form of an OAuth access token of ours.
func isAccessToken(token string) bool { return strings.HasPrefix(token, accessTokenPrefix+"_") }
