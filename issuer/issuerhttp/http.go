// Package issuerhttp serves the issuer's HTTP API for agencies: issue a credential, fetch one,
// and who-am-I, all authenticated with the agency's bearer token.
package issuerhttp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/issuer"
	"github.com/ezheng/ezheng/issuer/credtype"
)

// Service is what the handlers need from the issuer.
type Service interface {
	Authenticate(ctx context.Context, token string) (issuer.Agency, error)
	Issue(ctx context.Context, a issuer.Agency, req issuer.IssueRequest) (issuer.Credential, bool, error)
	Credential(ctx context.Context, a issuer.Agency, id string) (issuer.Credential, error)
	Receipt(ctx context.Context, a issuer.Agency, id string) ([]byte, error)
}

// Rules maps the issuer's errors to problem types. Mount them ahead of the generic rules.
var Rules = []problem.Rule{
	{Err: issuer.ErrAlreadyDecided, Status: http.StatusConflict, Name: "already-decided", Title: "The pending issuance was already decided"},
	{Err: issuer.ErrTypeNotAllowed, Status: http.StatusForbidden, Name: "type-not-allowed", Title: "The agency may not issue this credential type"},
	{Err: issuer.ErrUnknownType, Status: http.StatusBadRequest, Name: "unknown-credential-type", Title: "Unknown credential type"},
	{Err: issuer.ErrInvalidClaims, Status: http.StatusUnprocessableEntity, Name: "invalid-claims", Title: "The claims do not fit the credential type"},
	{Err: issuer.ErrInvalidHolder, Status: http.StatusUnprocessableEntity, Name: "invalid-holder", Title: "The holder DID has no usable key"},
	{Err: issuer.ErrIdempotencyConflict, Status: http.StatusConflict, Name: "idempotency-conflict", Title: "Idempotency key reused for a different request"},
	{Err: issuer.ErrNotAnchored, Status: http.StatusNotFound, Name: "not-anchored", Title: "The credential is not anchored on the ledger yet"},
	{Err: issuer.ErrLedgerRejected, Status: http.StatusConflict, Name: "ledger-rejected", Title: "The ledger rejected the operation"},
	{Err: issuer.ErrInvalidTransition, Status: http.StatusConflict, Name: "invalid-status-transition", Title: "The credential's status does not allow this change"},
	{Err: issuer.ErrStatusConflict, Status: http.StatusConflict, Name: "status-conflict", Title: "The status list changed concurrently; retry"},
	{Err: issuer.ErrFormatUnavailable, Status: http.StatusUnprocessableEntity, Name: "format-not-available", Title: "The credential cannot be issued in this format"},
	{Err: issuer.ErrInvalidTypeFile, Status: http.StatusUnprocessableEntity, Name: "invalid-type-file", Title: "The credential type file is not valid"},
	{Err: issuer.ErrTypeExists, Status: http.StatusConflict, Name: "type-exists", Title: "A credential type of that name or vct exists"},
	{Err: issuer.ErrNotFound, Status: http.StatusNotFound, Name: "not-found", Title: "Not found"},
	{Err: issuer.ErrInvalidRequest, Status: http.StatusBadRequest, Name: "malformed-request", Title: "Malformed request"},
}

type handler struct{ svc Service }

// Register mounts the issuer API under /issuer/v1.
func Register(e *echo.Echo, svc Service) {
	h := handler{svc}
	g := e.Group("/issuer/v1")
	g.GET("/agency", h.agency)
	g.POST("/credentials", h.issue)
	g.GET("/credentials/:id", h.credential)
	g.GET("/credentials/:id/receipt", h.receipt)
	registerReceipts(g, h) // by digest, for holders (receipts.go)
	registerStatus(g, h)
	registerKeys(g, h)
	registerTypes(g, h)
	registerVCAPI(e, h)
	registerAgencies(e, h)
	registerExternal(e, h) // accredit an issuer that is not an agency here (external.go)
}

func (h handler) auth(c echo.Context) (issuer.Agency, error) {
	tok, err := web.BearerToken(c)
	if err != nil {
		return issuer.Agency{}, err
	}
	return h.svc.Authenticate(c.Request().Context(), tok)
}

func (h handler) agency(c echo.Context) error {
	a, err := h.auth(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

// IssueRequest is the body of POST /issuer/v1/credentials.
type IssueRequest struct {
	Type   string         `json:"type"`
	Holder string         `json:"holder"`
	Claims map[string]any `json:"claims"`
}

// CredentialResponse describes an issued credential.
type CredentialResponse struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Format     string    `json:"format"`
	Issuer     string    `json:"issuer"`
	Holder     string    `json:"holder"`
	Credential string    `json:"credential"`
	Digest     string    `json:"digest"`
	IssuedAt   time.Time `json:"issued_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	// Formats holds the same credential in the other formats its type asks for: a JWT string
	// for "jwt_vc_json" and "vc+jwt", a JSON object for "ldp_vc". Credential stays the SD-JWT VC.
	Formats map[string]json.RawMessage `json:"formats,omitempty"`
}

func response(a issuer.Agency, cr issuer.Credential) CredentialResponse {
	return CredentialResponse{ID: cr.ID, Type: cr.Type, Format: cr.Format, Issuer: a.DID, Holder: cr.Holder,
		Credential: cr.Raw, Digest: cr.Digest, IssuedAt: cr.IssuedAt, ExpiresAt: cr.ExpiresAt, Formats: formatsJSON(cr.Formats)}
}

func (h handler) issue(c echo.Context) error {
	a, err := h.auth(c)
	if err != nil {
		return err
	}
	var req IssueRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	cr, created, err := h.svc.Issue(c.Request().Context(), a, issuer.IssueRequest{
		Type: req.Type, Holder: req.Holder, Claims: req.Claims,
		IdempotencyKey: c.Request().Header.Get("Idempotency-Key"),
	})
	var ce *credtype.ClaimsError
	if errors.As(err, &ce) {
		return claimsProblem(ce)
	}
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Response().Header().Set(echo.HeaderLocation, "/issuer/v1/credentials/"+cr.ID)
	}
	return c.JSON(status, response(a, cr))
}

func (h handler) credential(c echo.Context) error {
	a, err := h.auth(c)
	if err != nil {
		return err
	}
	cr, err := h.svc.Credential(c.Request().Context(), a, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, response(a, cr))
}

func (h handler) receipt(c echo.Context) error {
	a, err := h.auth(c)
	if err != nil {
		return err
	}
	r, err := h.svc.Receipt(c.Request().Context(), a, c.Param("id"))
	if errors.Is(err, issuer.ErrNotAnchored) {
		c.Response().Header().Set("Retry-After", "1")
	}
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, r)
}

// claimsProblem lists every claim violation, one per field, so a client can mark them all.
func claimsProblem(ce *credtype.ClaimsError) *problem.Problem {
	p := &problem.Problem{Type: problem.TypeURI("invalid-claims"), Title: "The claims do not fit the credential type",
		Status: http.StatusUnprocessableEntity, Detail: ce.Error()}
	for _, v := range ce.Violations {
		p.Errors = append(p.Errors, problem.FieldError{Field: "claims" + v.Path, Detail: v.Reason})
	}
	return p
}
