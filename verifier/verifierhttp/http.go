// Package verifierhttp serves the verifier's HTTP API: POST /verifier/v1/verify takes a QR's
// text, a presentation or a credential (JSON) or a photo of the QR (PNG/JPEG, raw or
// multipart) and answers with every check; GET /verifier/v1/policies lists the verification
// policies; GET /verifier/v1/records lists verification records (audit, no personal data);
// POST /credentials/verify and POST /presentations/verify are the W3C VC-API verifier.
package verifierhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/qr"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/verifier"
)

// Service is what the handlers need from the verifier.
type Service interface {
	Verify(ctx context.Context, text string, opts verifier.Options) (verifier.Result, error)
	Policies() *verifier.Policies
}

// RecordService is what the records handler needs from the verifier.
type RecordService interface {
	Records(ctx context.Context, q verifier.RecordQuery) ([]verifier.Record, error)
}

// Authorize decides whether the bearer token may read verification records: nil, or an error
// wrapping problem.ErrUnauthorized (unknown token) or problem.ErrForbidden.
type Authorize func(ctx context.Context, token string) error

// Rules maps the verifier's errors to problem types.
var Rules = []problem.Rule{
	{Err: verifier.ErrNotPresentation, Status: http.StatusBadRequest, Name: "not-a-presentation", Title: "The input is not a presentation"},
	{Err: verifier.ErrUnknownPolicy, Status: http.StatusBadRequest, Name: "unknown-policy", Title: "No verification policy has that name"},
	{Err: qr.ErrNoCode, Status: http.StatusBadRequest, Name: "no-qr-code", Title: "No QR code found in the image"},
	{Err: qr.ErrImage, Status: http.StatusBadRequest, Name: "bad-image", Title: "The image cannot be read"},
	{Err: verifier.ErrNotFound, Status: http.StatusNotFound, Name: "not-found", Title: "Not found"},
	{Err: verifier.ErrInvalidRequest, Status: http.StatusBadRequest, Name: "malformed-request", Title: "Malformed request"},
}

type handler struct{ svc Service }

// Register mounts the verifier API under /verifier/v1 and the VC-API verifier endpoints.
func Register(e *echo.Echo, svc Service) {
	h := handler{svc}
	e.POST("/verifier/v1/verify", h.verify)
	e.GET("/verifier/v1/policies", h.policies)
	e.POST("/credentials/verify", h.vcapiCredential)
	e.POST("/presentations/verify", h.vcapiPresentation)
}

// RegisterRecords mounts GET /verifier/v1/records, readable by the bearers auth accepts.
func RegisterRecords(e *echo.Echo, svc RecordService, auth Authorize) {
	e.GET("/verifier/v1/records", func(c echo.Context) error {
		tok, err := web.BearerToken(c)
		if err != nil {
			return err
		}
		if err := auth(c.Request().Context(), tok); err != nil {
			return err
		}
		q := verifier.RecordQuery{Counter: c.QueryParam("counter"), Service: c.QueryParam("service")}
		if v := c.QueryParam("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%w: limit must be a number", problem.ErrMalformed)
			}
			q.Limit = n
		}
		if v := c.QueryParam("before"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return fmt.Errorf("%w: before must be an RFC 3339 time", problem.ErrMalformed)
			}
			q.Before = t
		}
		recs, err := svc.Records(c.Request().Context(), q)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"records": recs})
	})
}

// VerifyRequest is the JSON body of POST /verifier/v1/verify. Exactly one of QR and
// Credential is set.
type VerifyRequest struct {
	// QR is the scanned QR text (an SD-JWT VC presentation).
	QR string `json:"qr,omitempty"`
	// Credential is a presentation or credential: a string (SD-JWT, vc+jwt, JWT-VC) or a JSON
	// object (a VCDM 1.1 JSON-LD credential).
	Credential json.RawMessage `json:"credential,omitempty"`
	Counter    string          `json:"counter,omitempty"`
	// Policy names the verification policy; "" for the counter's or the default.
	Policy string `json:"policy,omitempty"`
	// Receipt is the credential's anchor receipt, if the caller has it.
	Receipt json.RawMessage `json:"receipt,omitempty"`
}

func (h handler) verify(c echo.Context) error {
	var req VerifyRequest
	ct, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	switch ct {
	case "image/png", "image/jpeg":
		img, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		if req.QR, err = qr.Decode(img); err != nil {
			return err
		}
		req.Counter, req.Policy = c.QueryParam("counter"), c.QueryParam("policy")
	case "multipart/form-data":
		fh, err := c.FormFile("image")
		if err != nil {
			return fmt.Errorf("%w: multipart body needs a file field \"image\"", problem.ErrMalformed)
		}
		f, err := fh.Open()
		if err != nil {
			return err
		}
		img, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			return err
		}
		if req.QR, err = qr.Decode(img); err != nil {
			return err
		}
		req.Counter, req.Policy = c.FormValue("counter"), c.FormValue("policy")
	default:
		if err := web.Bind(c, &req); err != nil {
			return err
		}
		switch {
		case req.QR == "" && len(req.Credential) == 0:
			return fmt.Errorf("%w: \"qr\" or \"credential\" is required", problem.ErrMalformed)
		case req.QR != "" && len(req.Credential) > 0:
			return fmt.Errorf("%w: give \"qr\" or \"credential\", not both", problem.ErrMalformed)
		case len(req.Credential) > 0:
			text, err := credentialText(req.Credential)
			if err != nil {
				return err
			}
			req.QR = text
		}
	}
	res, err := h.svc.Verify(c.Request().Context(), req.QR, verifier.Options{Counter: req.Counter, Policy: req.Policy, Receipt: receipt(req.Receipt)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (h handler) policies(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"policies": h.svc.Policies().All(), "default": verifier.DefaultPolicy})
}

// receipt returns the receipt bytes of a JSON member, nil when absent or null.
func receipt(raw json.RawMessage) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}
