package verifierhttp

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/verifier"
)

// ServiceAdmin is what the administration of online services needs from the verifier.
type ServiceAdmin interface {
	// AddRelyingParty registers a service and mints its first token (shown once).
	AddRelyingParty(ctx context.Context, name string) (verifier.RelyingParty, verifier.NewServiceToken, error)
	// RelyingParties lists every service with its tokens (no secrets).
	RelyingParties(ctx context.Context) ([]verifier.RelyingParty, error)
	// NewServiceToken mints another token of a service; verifier.ErrNotFound if none.
	NewServiceToken(ctx context.Context, id string) (verifier.NewServiceToken, error)
	// RevokeServiceToken revokes a live token of a service; verifier.ErrNotFound if none.
	RevokeServiceToken(ctx context.Context, id, tokenID string) error
}

// NewServiceRequest is the body of POST /verifier/v1/services.
type NewServiceRequest struct {
	Name string `json:"name"`
}

// NewServiceResponse is a registered service with its first API token (shown once).
type NewServiceResponse struct {
	Service verifier.RelyingParty `json:"service"`
	verifier.NewServiceToken
}

// ServiceList is the body of GET /verifier/v1/services.
type ServiceList struct {
	Services []verifier.RelyingParty `json:"services"`
}

// RegisterServices mounts the administration of online services (relying parties) under
// /verifier/v1/services, for the bearers auth accepts (the root authority).
func RegisterServices(e *echo.Echo, svc ServiceAdmin, auth Authorize) {
	h := serviceHandler{svc, auth}
	e.POST("/verifier/v1/services", h.add)
	e.GET("/verifier/v1/services", h.list)
	e.POST("/verifier/v1/services/:id/tokens", h.createToken)
	e.DELETE("/verifier/v1/services/:id/tokens/:tid", h.revokeToken)
}

type serviceHandler struct {
	svc  ServiceAdmin
	auth Authorize
}

func (h serviceHandler) authorize(c echo.Context) error {
	tok, err := web.BearerToken(c)
	if err != nil {
		return err
	}
	return h.auth(c.Request().Context(), tok)
}

func (h serviceHandler) add(c echo.Context) error {
	if err := h.authorize(c); err != nil {
		return err
	}
	var req NewServiceRequest
	if err := web.Bind(c, &req); err != nil {
		return err
	}
	rp, tok, err := h.svc.AddRelyingParty(c.Request().Context(), req.Name)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, NewServiceResponse{Service: rp, NewServiceToken: tok})
}

func (h serviceHandler) list(c echo.Context) error {
	if err := h.authorize(c); err != nil {
		return err
	}
	all, err := h.svc.RelyingParties(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ServiceList{Services: all})
}

func (h serviceHandler) createToken(c echo.Context) error {
	if err := h.authorize(c); err != nil {
		return err
	}
	tok, err := h.svc.NewServiceToken(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, tok)
}

func (h serviceHandler) revokeToken(c echo.Context) error {
	if err := h.authorize(c); err != nil {
		return err
	}
	if err := h.svc.RevokeServiceToken(c.Request().Context(), c.Param("id"), c.Param("tid")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
