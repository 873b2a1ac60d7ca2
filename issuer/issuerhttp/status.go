package issuerhttp

import (
	"context"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/statuslist"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/issuer"
)

// StatusService is what the status handlers need from the issuer: changing a credential's
// status and serving the signed status lists.
type StatusService interface {
	SetStatus(ctx context.Context, a issuer.Agency, id string, req issuer.StatusRequest) (issuer.StatusResult, error)
	// StatusListToken returns the statuslist+jwt to serve and how long it may be cached, or
	// ErrNotFound.
	StatusListToken(ctx context.Context, id string) (string, time.Duration, error)
}

// StatusChangeRequest is the body of POST /issuer/v1/credentials/{id}/status.
type StatusChangeRequest struct {
	Action string `json:"action"`         // revoke, suspend or reinstate
	Reason string `json:"reason"`         // an RFC 5280 CRLReason name in camelCase
	Note   string `json:"note,omitempty"` // operator's note for the audit trail; no personal data
}

// W3CStatusService is the optional ability of a StatusService to serve the W3C Bitstring
// Status Lists that mirror each status list.
type W3CStatusService interface {
	// W3CStatusList returns the vc+jwt BitstringStatusListCredential of purpose ("revocation"
	// or "suspension") of status list id and how long it may be cached, or ErrNotFound.
	W3CStatusList(ctx context.Context, id, purpose string) (string, time.Duration, error)
}

// ContentTypeStatusList is the media type of a Status List Token.
const ContentTypeStatusList = "application/statuslist+jwt"

// ContentTypeVCJWT is the media type of a W3C Bitstring Status List credential.
const ContentTypeVCJWT = "application/vc+jwt"

// registerStatus mounts the status endpoints on g if svc can change statuses.
func registerStatus(g *echo.Group, h handler) {
	ss, ok := h.svc.(StatusService)
	if !ok {
		return
	}
	g.POST("/credentials/:id/status", func(c echo.Context) error {
		a, err := h.auth(c)
		if err != nil {
			return err
		}
		var req StatusChangeRequest
		if err := web.Bind(c, &req); err != nil {
			return err
		}
		res, err := ss.SetStatus(c.Request().Context(), a, c.Param("id"), issuer.StatusRequest{Action: req.Action, Reason: req.Reason, Note: req.Note})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, res)
	})
	g.GET("/status/:list", func(c echo.Context) error {
		tok, ttl, err := ss.StatusListToken(c.Request().Context(), c.Param("list"))
		if err != nil {
			return err
		}
		return serveList(c, ContentTypeStatusList, tok, ttl)
	})
	if ws, ok := h.svc.(W3CStatusService); ok {
		g.GET("/status/:list/w3c/:purpose", func(c echo.Context) error {
			cred, ttl, err := ws.W3CStatusList(c.Request().Context(), c.Param("list"), c.Param("purpose"))
			if err != nil {
				return err
			}
			return serveList(c, ContentTypeVCJWT, cred, ttl)
		})
	}
}

// serveList writes a signed status list with its ETag (a prefix of its digest) and max-age,
// or 304 Not Modified when the request's If-None-Match lists the ETag.
func serveList(c echo.Context, contentType, signed string, ttl time.Duration) error {
	etag := `"` + hex.EncodeToString(statuslist.Digest([]byte(signed))[:16]) + `"`
	hdr := c.Response().Header()
	hdr.Set("ETag", etag)
	hdr.Set("Cache-Control", "max-age="+strconv.Itoa(int(ttl/time.Second)))
	if match := c.Request().Header.Get("If-None-Match"); match != "" && etagMatches(match, etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, contentType, []byte(signed))
}

// etagMatches reports whether an If-None-Match header lists etag (or is "*").
func etagMatches(header, etag string) bool {
	for _, m := range strings.Split(header, ",") {
		m = strings.TrimPrefix(strings.TrimSpace(m), "W/")
		if m == etag || m == "*" {
			return true
		}
	}
	return false
}
