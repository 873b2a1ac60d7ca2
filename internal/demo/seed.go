// Package demo seeds the demo world that `ezheng serve` starts with (a root authority, three
// agencies, one citizen, one counter) and performs the demo walk over HTTP: issue → wallet →
// counter QR → verify.
package demo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/issuer"
	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/wallet"
)

// FileName is the name of the demo world file in the data directory.
const FileName = "demo.json"

// World is what demo.json holds: everything a newcomer needs to call the API.
type World struct {
	BaseURL string `json:"base_url"`
	// LedgerKey verifies the ledger's checkpoints (note-verifier form): anchor receipts check
	// offline against it.
	LedgerKey     string    `json:"ledger_key"`
	RootAuthority Authority `json:"root_authority"`
	Agencies      []Agency  `json:"agencies"`
	Citizen       Citizen   `json:"citizen"`
	Counter       Counter   `json:"counter"`
	// Service is the demo online service, which creates OpenID4VP requests with its token.
	Service Service `json:"service"`
}

// Authority is the root authority that accredits agencies, with its API token (it adds and
// lists agencies: POST and GET /issuer/v1/agencies).
type Authority struct {
	Name  string `json:"name"`
	DID   string `json:"did"`
	Token string `json:"token"`
}

// Agency is a demo agency with its API token.
type Agency struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	DID   string `json:"did"`
	Type  string `json:"type"`
	Token string `json:"token"`
}

// Citizen is the demo citizen with what their phone app holds: a device key (a private JWK;
// its public part is registered as the citizen's device) and an access token bound to it.
// Every bridge call needs both: "Authorization: DPoP <token>" and a DPoP proof signed with
// the device key (see Authorize).
type Citizen struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	DID       string          `json:"did"`
	Token     string          `json:"token"`
	DeviceID  string          `json:"device_id"`
	DeviceKey json.RawMessage `json:"device_key"` // private JWK (P-256)
}

// Counter is the demo counter.
type Counter struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Disclose []string `json:"disclose"`
}

// Service is the demo online service (an OpenID4VP relying party) with its API token: "Authorization:
// Bearer <token>" on POST /verifier/v1/oid4vp/requests and on reading its sessions.
type Service struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Token string `json:"token"`
}

// Agency returns the demo agency issuing typ.
func (w *World) Agency(typ string) (Agency, bool) {
	for _, a := range w.Agencies {
		if a.Type == typ {
			return a, true
		}
	}
	return Agency{}, false
}

// The demo world's fixed names.
const (
	RootAuthorityName = "City Data Bureau (root authority)"
	CitizenName       = "Zhang San (demo citizen)"
	CounterID         = "counter-traffic-police-1"
	ServiceName       = "demo online service"
)

var demoAgencies = []struct{ name, typ string }{
	{"Public Security Bureau", "DrivingLicence"},
	{"Health Commission", "HealthCode"},
	{"Market Regulation Administration", "BusinessLicence"},
}

// Services are the components Seed writes to.
type Services struct {
	Issuer   *issuer.Service
	Wallet   *wallet.Service
	Verifier *verifier.Service
	// OpenID4VP registers the demo online service.
	OpenID4VP *verifier.OpenID4VP
	// LedgerKey is the ledger's checkpoint verifier key, recorded in demo.json.
	LedgerKey string
}

// Seed makes sure the demo world exists and returns it, writing it to dataDir/demo.json (mode
// 0600: it holds API tokens). The root authority must exist already (it is made with the
// ledger's genesis); Seed creates the three agencies' did:ez DIDs on the ledger and has the
// root authority accredit each for its type. It is idempotent: an existing, complete demo.json
// is reused and only its base URL updated; entities that exist are never created twice, and
// tokens are minted only when demo.json is missing. created reports whether anything was
// created.
func Seed(ctx context.Context, svc Services, dataDir, baseURL string) (w *World, created bool, err error) {
	file := filepath.Join(dataDir, FileName)
	if w, err := Load(file); err == nil && w.complete() {
		if w.BaseURL != baseURL || w.LedgerKey != svc.LedgerKey {
			w.BaseURL, w.LedgerKey = baseURL, svc.LedgerKey
			return w, false, write(file, w)
		}
		return w, false, nil
	}
	w = &World{BaseURL: baseURL, LedgerKey: svc.LedgerKey}

	root, err := svc.Issuer.RootAuthority(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("root authority: %w", err)
	}
	rootTok, err := svc.Issuer.NewToken(ctx, root.ID)
	if err != nil {
		return nil, false, err
	}
	w.RootAuthority = Authority{Name: root.Name, DID: root.DID, Token: rootTok}

	for _, d := range demoAgencies {
		a, made, err := ensureAgency(ctx, svc.Issuer, d.name, []string{d.typ})
		if err != nil {
			return nil, false, err
		}
		if made {
			created = true
			t, err := issuer.LookupType(d.typ)
			if err != nil {
				return nil, false, err
			}
			from := a.CreatedAt.Add(-time.Minute) // the ledger's clock may trail ours a little
			if err := svc.Issuer.Accredit(ctx, root, a.DID, []string{t.VCT}, from, from.AddDate(10, 0, 0)); err != nil {
				return nil, false, fmt.Errorf("accredit %s: %w", a.Name, err)
			}
		}
		tok, err := svc.Issuer.NewToken(ctx, a.ID)
		if err != nil {
			return nil, false, err
		}
		w.Agencies = append(w.Agencies, Agency{ID: a.ID, Name: a.Name, DID: a.DID, Type: d.typ, Token: tok})
	}

	cit, err := svc.Wallet.CitizenByName(ctx, CitizenName)
	if errors.Is(err, wallet.ErrNotFound) {
		cit, err = svc.Wallet.CreateCitizen(ctx, CitizenName)
		created = true
	}
	if err != nil {
		return nil, false, err
	}
	// The demo phone: a device key registered for the citizen, and a token bound to it.
	dk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, false, err
	}
	dev, tok, err := svc.Wallet.RegisterDevice(ctx, cit.ID, jose.JSONWebKey{Key: dk.Public()}, "demo phone")
	if err != nil {
		return nil, false, fmt.Errorf("demo device: %w", err)
	}
	priv, err := jose.JSONWebKey{Key: dk, Algorithm: "ES256"}.MarshalJSON()
	if err != nil {
		return nil, false, err
	}
	w.Citizen = Citizen{ID: cit.ID, Name: cit.Name, DID: cit.HolderDID, Token: tok, DeviceID: dev.ID, DeviceKey: priv}

	dl, _ := issuer.LookupType("DrivingLicence")
	counter := verifier.Counter{ID: CounterID, Name: "Traffic police counter 1", Type: dl.VCT,
		Disclose: []string{"family_name", "given_name", "licence_class"}}
	if err := svc.Verifier.SaveCounter(ctx, counter); err != nil {
		return nil, false, err
	}
	w.Counter = Counter{ID: counter.ID, Name: counter.Name, Type: counter.Type, Disclose: counter.Disclose}

	rp, tok, made, err := ensureService(ctx, svc.OpenID4VP, ServiceName)
	if err != nil {
		return nil, false, fmt.Errorf("demo service: %w", err)
	}
	created = created || made
	w.Service = Service{ID: rp.ID, Name: rp.Name, Token: tok}
	return w, created, write(file, w)
}

func ensureAgency(ctx context.Context, svc *issuer.Service, name string, types []string) (issuer.Agency, bool, error) {
	a, err := svc.AgencyByName(ctx, name)
	if err == nil {
		return a, false, nil
	}
	if !errors.Is(err, issuer.ErrNotFound) {
		return a, false, err
	}
	a, err = svc.CreateAgency(ctx, name, types)
	return a, err == nil, err
}

// ensureService returns the online service called name with a new token, registering it
// first if there is none.
func ensureService(ctx context.Context, o *verifier.OpenID4VP, name string) (verifier.RelyingParty, string, bool, error) {
	all, err := o.RelyingParties(ctx)
	if err != nil {
		return verifier.RelyingParty{}, "", false, err
	}
	for _, rp := range all {
		if rp.Name == name {
			tok, err := o.NewServiceToken(ctx, rp.ID)
			return rp, tok.Token, false, err
		}
	}
	rp, tok, err := o.AddRelyingParty(ctx, name)
	return rp, tok.Token, err == nil, err
}

func (w *World) complete() bool {
	return w.Service.Token != "" && w.RootAuthority.DID != "" && w.RootAuthority.Token != "" && len(w.Agencies) == len(demoAgencies) && w.Citizen.Token != "" && len(w.Citizen.DeviceKey) > 0 && w.Counter.ID != ""
}

// Load reads a demo world file.
func Load(file string) (*World, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var w World
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &w, nil
}

func write(file string, w *World) error {
	b, err := json.MarshalIndent(w, "", "  ")
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
