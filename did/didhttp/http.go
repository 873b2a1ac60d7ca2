// Package didhttp serves DID resolution over HTTP per the W3C DID Resolution HTTP(S) binding:
// GET /1.0/identifiers/{did}.
package didhttp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/internal/problem"
)

// Result is a DID resolution result.
type Result struct {
	Context          string         `json:"@context"`
	DIDDocument      *did.Document  `json:"didDocument"`
	ResolutionMeta   map[string]any `json:"didResolutionMetadata"`
	DocumentMetadata map[string]any `json:"didDocumentMetadata"`
}

// The media types of the binding.
const (
	MediaResolution = "application/did-resolution"
	MediaDIDLD      = "application/did+ld+json"
	MediaDID        = "application/did+json"
)

// Register mounts GET /1.0/identifiers/:did resolving with r.
func Register(e *echo.Echo, r did.Resolver) {
	e.GET("/1.0/identifiers/:did", func(c echo.Context) error {
		raw, err := url.PathUnescape(c.Param("did"))
		if err != nil {
			return resolutionProblem(did.ErrInvalidDID, "the DID is not properly percent-encoded")
		}
		doc, err := resolve(c.Request().Context(), r, raw)
		if err != nil {
			return err
		}
		accept := c.Request().Header.Get(echo.HeaderAccept)
		switch {
		case strings.Contains(accept, MediaDIDLD):
			return jsonAs(c, MediaDIDLD, doc)
		case strings.Contains(accept, MediaDID):
			return jsonAs(c, MediaDID, doc)
		}
		return jsonAs(c, MediaResolution, Result{
			Context:          "https://w3id.org/did-resolution/v1",
			DIDDocument:      doc,
			ResolutionMeta:   map[string]any{"contentType": MediaDIDLD},
			DocumentMetadata: map[string]any{},
		})
	})
}

func resolve(ctx context.Context, r did.Resolver, raw string) (*did.Document, error) {
	doc, err := r.Resolve(ctx, raw)
	if err == nil {
		return doc, nil
	}
	for _, e := range []error{did.ErrInvalidDID, did.ErrMethodNotSupported, did.ErrNotFound} {
		if errors.Is(err, e) {
			return nil, resolutionProblem(e, err.Error())
		}
	}
	return nil, err
}

// resolutionProblem answers with the DID Resolution error types (absolute URIs in the DID
// namespace), shaped as RFC 9457 problem details as the DID Resolution draft specifies.
func resolutionProblem(kind error, detail string) *problem.Problem {
	p := &problem.Problem{Detail: detail}
	switch kind {
	case did.ErrInvalidDID:
		p.Type, p.Title, p.Status = "https://www.w3.org/ns/did#INVALID_DID", "Invalid DID", http.StatusBadRequest
	case did.ErrMethodNotSupported:
		p.Type, p.Title, p.Status = "https://www.w3.org/ns/did#METHOD_NOT_SUPPORTED", "DID method not supported", http.StatusNotImplemented
	default:
		p.Type, p.Title, p.Status = "https://www.w3.org/ns/did#NOT_FOUND", "DID not found", http.StatusNotFound
	}
	return p
}

func jsonAs(c echo.Context, mediaType string, v any) error {
	c.Response().Header().Set(echo.HeaderContentType, mediaType)
	return c.JSON(http.StatusOK, v)
}
