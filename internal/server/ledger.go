package server

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/issuer"
)

// Files the server keeps beside the databases.
const (
	// GenesisFile holds the ledger's genesis (origin, time, the root authority's create
	// operation). Other nodes of the same ledger start from the same file.
	GenesisFile = "ledger-genesis.json"
	// LedgerKeyFile holds the node's checkpoint verifier key (public), for verifiers and audits.
	LedgerKeyFile = "ledger-key.txt"
)

// ledgerKey derives the node's checkpoint signing key from the master key, so it survives
// restarts without a file of its own, and returns it with its verifier and verifier key text.
func ledgerKey(master []byte, origin string) (note.Signer, note.Verifier, string, error) {
	seed, err := hkdf.Key(sha256.New, master, nil, "ezheng/ledger/checkpoint-key/v1", 32)
	if err != nil {
		return nil, nil, "", err
	}
	skey, vkey, err := merklelog.KeyFromSeed(origin, seed)
	if err != nil {
		return nil, nil, "", fmt.Errorf("ledger key: %w", err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, nil, "", err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, "", err
	}
	return signer, verifier, vkey, nil
}

// genesis returns the ledger's genesis: read from GenesisFile, or made on first start with a
// new root authority in the issuer's database and written there.
func (s *Server) genesis(ctx context.Context, sealer *keys.Sealer, log *slog.Logger) (ledger.Genesis, error) {
	file := filepath.Join(s.cfg.DataDir, GenesisFile)
	if b, err := os.ReadFile(file); err == nil {
		g, err := ledger.ParseGenesis(b)
		if err != nil {
			return g, fmt.Errorf("%s: %w", file, err)
		}
		return g, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return ledger.Genesis{}, err
	}
	boot, err := issuer.New(issuer.Config{Store: s.issuerDB, Anchors: s.issuerDB, Sealer: sealer, Resolver: did.Local{}, Logger: log.With("component", "issuer"), Now: s.cfg.Now})
	if err != nil {
		return ledger.Genesis{}, err
	}
	if _, err := boot.RootAuthority(ctx); err == nil {
		return ledger.Genesis{}, fmt.Errorf("%s is missing but the issuer database already has a root authority: restore the file", file)
	}
	_, op, err := boot.CreateAuthority(ctx, s.cfg.RootAuthorityName)
	if err != nil {
		return ledger.Genesis{}, err
	}
	g := ledger.Genesis{Origin: s.cfg.LedgerOrigin, Time: s.cfg.Now().UTC(), Create: op}
	if err := g.Validate(); err != nil {
		return g, err
	}
	if err := os.WriteFile(file, g.Encode(), 0o644); err != nil {
		return g, err
	}
	return g, nil
}

// ledgerResolver resolves did:ez from the ledger.
type ledgerResolver struct{ l *ledger.Ledger }

func (r ledgerResolver) Resolve(ctx context.Context, d string) (*did.Document, error) {
	return r.l.ResolveDID(ctx, d)
}

func (r ledgerResolver) ResolveVersion(ctx context.Context, d string, q did.Query) (*did.Document, did.Metadata, error) {
	res, err := r.l.Resolve(ctx, d, ledger.ResolveQuery{VersionID: q.VersionID, VersionTime: q.VersionTime})
	if err != nil {
		return nil, did.Metadata{}, err
	}
	md := res.Metadata
	m := did.Metadata{VersionID: md.VersionID, Deactivated: md.Deactivated, NextVersionID: md.NextVersionID,
		Created: timePtr(md.Created), Updated: timePtr(md.Updated), NextUpdate: timePtr(md.NextUpdate)}
	return res.Document, m, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
