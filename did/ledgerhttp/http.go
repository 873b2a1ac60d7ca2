// Package ledgerhttp serves the DID ledger over HTTP: submit a signed operation, read the
// newest signed checkpoint, inclusion and consistency proofs, operations by leaf index,
// accreditations and the node's status. Reads are open to anyone (the ledger is public to its
// members and verifiers); writes are signed operations, authorised by their signatures.
package ledgerhttp

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/web"
)

// Ledger is what the handlers need from the ledger node.
type Ledger interface {
	Submit(ctx context.Context, jws string) (ledger.Result, error)
	Checkpoint(ctx context.Context) ([]byte, error)
	InclusionProof(ctx context.Context, leafIndex, treeSize uint64) ([][]byte, error)
	ConsistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error)
	Op(ctx context.Context, leafIndex uint64) (string, error)
	Accreditation(ctx context.Context, issuer, vct string, at time.Time) (ledger.Accreditation, error)
	Status(ctx context.Context) ledger.Status
}

// Rules maps ledger errors to problem types.
var Rules = []problem.Rule{
	{Err: ledger.ErrNotAccredited, Status: http.StatusNotFound, Name: "not-accredited", Title: "No accreditation in force"},
	{Err: ledger.ErrNotFound, Status: http.StatusNotFound, Name: "not-found", Title: "Not found"},
	{Err: ledger.ErrRange, Status: http.StatusBadRequest, Name: "out-of-range", Title: "Index or size out of range"},
}

type handler struct{ l Ledger }

// Register mounts the ledger API under /ledger/v1.
func Register(e *echo.Echo, l Ledger) {
	h := handler{l}
	g := e.Group("/ledger/v1")
	g.POST("/operations", h.submit)
	g.GET("/operations/:index", h.op)
	g.GET("/checkpoint", h.checkpoint)
	g.GET("/proofs/inclusion", h.inclusion)
	g.GET("/proofs/consistency", h.consistency)
	g.GET("/accreditations/:issuer", h.accreditation)
	g.GET("/status", h.status)
}

// SubmitRequest is the JSON body of POST /ledger/v1/operations (application/jose with the bare
// compact JWS is accepted too).
type SubmitRequest struct {
	Operation string `json:"operation"`
}

// SubmitResponse is the answer for an accepted operation.
type SubmitResponse struct {
	Result    ledger.Code `json:"result"`
	LeafIndex uint64      `json:"leaf_index"`
	Height    uint64      `json:"height"`
}

func (h handler) submit(c echo.Context) error {
	var op string
	ct, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if ct == "application/jose" {
		b, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		op = strings.TrimSpace(string(b))
	} else {
		var req SubmitRequest
		if err := web.Bind(c, &req); err != nil {
			return err
		}
		op = req.Operation
	}
	if op == "" {
		return fmt.Errorf("%w: the operation is empty", problem.ErrMalformed)
	}
	res, err := h.l.Submit(c.Request().Context(), op)
	if err != nil {
		return err
	}
	if res.Code != ledger.CodeOK {
		return &problem.Problem{Type: problem.TypeURI("operation-rejected"), Title: "The ledger rejected the operation",
			Status: http.StatusUnprocessableEntity, Detail: string(res.Code) + ": " + res.Reason}
	}
	return c.JSON(http.StatusCreated, SubmitResponse{Result: res.Code, LeafIndex: res.LeafIndex, Height: res.Height})
}

func (h handler) op(c echo.Context) error {
	i, err := uintParam(c.Param("index"), "index")
	if err != nil {
		return err
	}
	op, err := h.l.Op(c.Request().Context(), i)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/jose", []byte(op))
}

// CheckpointMediaType is the media type of the signed note.
const CheckpointMediaType = "text/plain; charset=utf-8"

func (h handler) checkpoint(c echo.Context) error {
	cp, err := h.l.Checkpoint(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, CheckpointMediaType, cp)
}

// Proof is the answer of the proof endpoints: hashes in base64 (standard, as in checkpoints).
type Proof struct {
	Index    uint64   `json:"index,omitempty"`
	From     uint64   `json:"from,omitempty"`
	TreeSize uint64   `json:"tree_size"`
	Hashes   [][]byte `json:"hashes"`
}

func (h handler) inclusion(c echo.Context) error {
	i, err := uintParam(c.QueryParam("index"), "index")
	if err != nil {
		return err
	}
	size, err := uintParam(c.QueryParam("tree_size"), "tree_size")
	if err != nil {
		return err
	}
	p, err := h.l.InclusionProof(c.Request().Context(), i, size)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, Proof{Index: i, TreeSize: size, Hashes: nonNil(p)})
}

func (h handler) consistency(c echo.Context) error {
	from, err := uintParam(c.QueryParam("from"), "from")
	if err != nil {
		return err
	}
	to, err := uintParam(c.QueryParam("tree_size"), "tree_size")
	if err != nil {
		return err
	}
	p, err := h.l.ConsistencyProof(c.Request().Context(), from, to)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, Proof{From: from, TreeSize: to, Hashes: nonNil(p)})
}

func (h handler) accreditation(c echo.Context) error {
	typ := c.QueryParam("type")
	if typ == "" {
		return fmt.Errorf("%w: query parameter type (a vct) is required", problem.ErrMalformed)
	}
	at := time.Now()
	if s := c.QueryParam("at"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fmt.Errorf("%w: at must be an RFC 3339 time", problem.ErrMalformed)
		}
		at = t
	}
	a, err := h.l.Accreditation(c.Request().Context(), c.Param("issuer"), typ, at)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

func (h handler) status(c echo.Context) error {
	s := h.l.Status(c.Request().Context())
	return c.JSON(http.StatusOK, StatusResponse{Height: s.Height, TreeSize: s.Size, Root: s.Root, Origin: s.Origin, RootAuthority: s.RootAuthority})
}

// StatusResponse is the answer of GET /ledger/v1/status.
type StatusResponse struct {
	Height        uint64 `json:"height"`
	TreeSize      uint64 `json:"tree_size"`
	Root          []byte `json:"root"`
	Origin        string `json:"origin"`
	RootAuthority string `json:"root_authority"`
}

func uintParam(s, name string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s must be a non-negative integer", problem.ErrMalformed, name)
	}
	return v, nil
}

func nonNil(p [][]byte) [][]byte {
	if p == nil {
		return [][]byte{}
	}
	return p
}
