package verifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/secret"
)

// Online services (relying parties) are the verifier's tenants for OpenID4VP: each has a name
// (the one citizens see on the consent screen) and API tokens, stored hashed like an agency's.
// A service creates requests with its token and reads only its own sessions.

// Errors of relying parties.
var (
	// ErrUnauthorized means a missing, unknown or revoked service token.
	ErrUnauthorized = fmt.Errorf("%w: unknown, revoked or missing service token", problem.ErrUnauthorized)
	// ErrServiceExists means a service of that name is registered already.
	ErrServiceExists = fmt.Errorf("%w: a service of that name exists", problem.ErrConflict)
)

// MaxServiceNameLen bounds a service's name, in bytes.
const MaxServiceNameLen = 200

// serviceTokenPrefix starts every service API token.
const serviceTokenPrefix = "ezvs"

// RelyingParty is an online service registered with the verifier (a "service" in the HTTP
// API and the CLI). Its name is what the wallet shows the citizen as the requester.
type RelyingParty struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// Tokens are the service's API tokens (never their secrets), when listed.
	Tokens []ServiceToken `json:"tokens,omitempty"`
}

// ServiceToken is a service API token as stored: its id and the hash of the secret.
type ServiceToken struct {
	ID        string     `json:"id"`
	Hash      []byte     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// NewServiceToken is a freshly minted token: its id (to revoke it) and its secret, shown once.
type NewServiceToken struct {
	ID    string `json:"token_id"`
	Token string `json:"token"`
}

// LogValue keeps the secret out of logs.
func (t NewServiceToken) LogValue() slog.Value {
	return slog.GroupValue(slog.String("token_id", t.ID), slog.String("token", "REDACTED"))
}

// RelyingPartyStore keeps relying parties and their tokens. Implementation: verifierstore.
type RelyingPartyStore interface {
	// CreateRelyingParty stores a new service with its first token, in one transaction;
	// ErrServiceExists if the name is taken.
	CreateRelyingParty(ctx context.Context, rp RelyingParty, first ServiceToken) error
	// RelyingParties returns every service with its tokens, each oldest first (in the order
	// they were stored).
	RelyingParties(ctx context.Context) ([]RelyingParty, error)
	// AddServiceToken stores a new token of service id; ErrNotFound for an unknown service.
	AddServiceToken(ctx context.Context, id string, t ServiceToken) error
	// RevokeServiceToken marks token tokenID of service id revoked at at; ErrNotFound unless
	// the service has that token and it is live.
	RevokeServiceToken(ctx context.Context, id, tokenID string, at time.Time) error
	// RelyingPartyByToken returns the service owning the live token with that hash (without
	// Tokens), or ErrNotFound.
	RelyingPartyByToken(ctx context.Context, hash []byte) (RelyingParty, error)
}

// AddRelyingParty registers an online service called name and mints its first API token,
// which the caller must hand over once and never log. Authorising the caller (the root
// authority) is the HTTP layer's job. Errors: ErrInvalidRequest (empty, overlong or
// control characters in name), ErrServiceExists.
func (o *OpenID4VP) AddRelyingParty(ctx context.Context, name string) (RelyingParty, NewServiceToken, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return RelyingParty{}, NewServiceToken{}, fmt.Errorf("%w: name is empty", ErrInvalidRequest)
	case len(name) > MaxServiceNameLen:
		return RelyingParty{}, NewServiceToken{}, fmt.Errorf("%w: name longer than %d bytes", ErrInvalidRequest, MaxServiceNameLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return RelyingParty{}, NewServiceToken{}, fmt.Errorf("%w: name holds control characters", ErrInvalidRequest)
	}
	now := o.now().UTC().Truncate(time.Second)
	rp := RelyingParty{ID: secret.ID("svc"), Name: name, CreatedAt: now}
	nt, st := o.mintToken(now)
	if err := o.rps.CreateRelyingParty(ctx, rp, st); err != nil {
		return RelyingParty{}, NewServiceToken{}, err
	}
	o.log.InfoContext(ctx, "verifier service added", "service", rp.ID, "token_id", nt.ID)
	return rp, nt, nil
}

func (o *OpenID4VP) mintToken(now time.Time) (NewServiceToken, ServiceToken) {
	tok, hash := secret.Token(serviceTokenPrefix)
	id := secret.ID("svt")
	return NewServiceToken{ID: id, Token: tok}, ServiceToken{ID: id, Hash: hash, CreatedAt: now}
}

// RelyingParties lists every service with its tokens' ids and times (no secrets).
func (o *OpenID4VP) RelyingParties(ctx context.Context) ([]RelyingParty, error) {
	return o.rps.RelyingParties(ctx)
}

// NewServiceToken mints another API token for service id (to rotate: mint, deploy, revoke the
// old one). Errors: ErrNotFound.
func (o *OpenID4VP) NewServiceToken(ctx context.Context, id string) (NewServiceToken, error) {
	nt, st := o.mintToken(o.now().UTC().Truncate(time.Second))
	if err := o.rps.AddServiceToken(ctx, id, st); err != nil {
		return NewServiceToken{}, err
	}
	o.log.InfoContext(ctx, "verifier service token created", "service", id, "token_id", nt.ID)
	return nt, nil
}

// RevokeServiceToken revokes token tokenID of service id at once: requests with it are
// refused from then on. Errors: ErrNotFound (no such live token of that service).
func (o *OpenID4VP) RevokeServiceToken(ctx context.Context, id, tokenID string) error {
	if err := o.rps.RevokeServiceToken(ctx, id, tokenID, o.now().UTC().Truncate(time.Second)); err != nil {
		return err
	}
	o.log.InfoContext(ctx, "verifier service token revoked", "service", id, "token_id", tokenID)
	return nil
}

// AuthenticateService returns the service owning a live API token, or ErrUnauthorized.
func (o *OpenID4VP) AuthenticateService(ctx context.Context, token string) (RelyingParty, error) {
	hash := secret.Hash(token)
	if hash == nil || !strings.HasPrefix(token, serviceTokenPrefix+"_") {
		return RelyingParty{}, ErrUnauthorized
	}
	rp, err := o.rps.RelyingPartyByToken(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return RelyingParty{}, ErrUnauthorized
	}
	return rp, err
}
