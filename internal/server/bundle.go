package server

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/verifier/bundle"
)

// BundleKeyFile is the file in the data directory that holds the trust-bundle signing key,
// sealed under the master key.
const BundleKeyFile = "bundle-key.sealed"

// bundleKeyAAD binds the sealed key to its purpose.
var bundleKeyAAD = []byte("ezheng verifier trust-bundle signing key")

// bundleKey returns the verifier's bundle signing key: read from BundleKeyFile, or made on
// first start and written there sealed.
func bundleKey(dataDir string, master []byte) (ed25519.PrivateKey, error) {
	sealer, err := keys.NewSealer(master, "verifier")
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dataDir, BundleKeyFile)
	var k *keys.Key
	if b, err := os.ReadFile(file); err == nil {
		if k, err = sealer.OpenKey(b, bundleKeyAAD); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	} else if errors.Is(err, os.ErrNotExist) {
		if k, err = keys.Generate(keys.EdDSA, nil); err != nil {
			return nil, err
		}
		sealed, err := sealer.SealKey(k, bundleKeyAAD)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(file, sealed, 0o600); err != nil {
			return nil, err
		}
	} else {
		return nil, err
	}
	priv, ok := k.Signer().(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 key", file)
	}
	return priv, nil
}

// registerBundle makes the trust-bundle exporter and mounts GET /verifier/v1/bundle and
// GET /verifier/v1/bundle/key.
func (s *Server) registerBundle(statusLists verifier.StatusLists) error {
	key, err := bundleKey(s.cfg.DataDir, s.cfg.MasterKey)
	if err != nil {
		return fmt.Errorf("bundle key: %w", err)
	}
	policies := func(context.Context) (map[string][]byte, error) {
		out := map[string][]byte{}
		for _, p := range s.Verifier.Policies().All() {
			b, err := json.Marshal(p)
			if err != nil {
				return nil, err
			}
			out[p.Name+".json"] = b
		}
		return out, nil
	}
	if s.Bundles, err = bundle.NewExporter(bundle.ExportConfig{Ledger: s.Ledger, LedgerKey: s.LedgerKey, StatusLists: statusLists,
		Policies: policies, Key: key, Now: s.cfg.Now, Logger: s.cfg.Logger.With("component", "bundle")}); err != nil {
		return err
	}
	h := bundleHandler{s.Bundles}
	s.Echo.GET("/verifier/v1/bundle", h.bundle)
	s.Echo.GET("/verifier/v1/bundle/key", h.key)
	return nil
}

type bundleHandler struct{ x *bundle.Exporter }

// BundleKey is the answer of GET /verifier/v1/bundle/key.
type BundleKey struct {
	Key         string `json:"key"`         // "ed25519:<base64url>"
	Fingerprint string `json:"fingerprint"` // "sha256:<hex>"
}

func (h bundleHandler) key(c echo.Context) error {
	k := h.x.PublicKey()
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.JSON(http.StatusOK, BundleKey{Key: k.String(), Fingerprint: k.Fingerprint()})
}

func (h bundleHandler) bundle(c echo.Context) error {
	ctx := c.Request().Context()
	var file []byte
	var seq uint64
	var err error
	mediaType, tag := bundle.MediaType, "full"
	if s := c.QueryParam("since"); s != "" {
		since, perr := strconv.ParseUint(s, 10, 64)
		if perr != nil {
			return fmt.Errorf("%w: since must be a bundle sequence number (a non-negative integer)", problem.ErrMalformed)
		}
		file, seq, err = h.x.Delta(ctx, since)
		if errors.Is(err, bundle.ErrSince) {
			return fmt.Errorf("%w: %v", problem.ErrMalformed, err)
		}
		mediaType, tag = bundle.DeltaMediaType, "delta-"+s
	} else {
		file, seq, err = h.x.Full(ctx)
	}
	if err != nil {
		return err
	}
	sum := sha256.Sum256(file)
	etag := fmt.Sprintf(`"%s-%d-%s"`, tag, seq, base64.RawURLEncoding.EncodeToString(sum[:12]))
	hd := c.Response().Header()
	hd.Set("ETag", etag)
	hd.Set("Cache-Control", "public, max-age=30")
	hd.Set("Bundle-Sequence", strconv.FormatUint(seq, 10))
	if c.Request().Header.Get("If-None-Match") == etag {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, mediaType, file)
}
