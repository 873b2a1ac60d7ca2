// Package server assembles every ezheng component into one process: the issuer, the wallet,
// the mobile bridge, the verifier and the DID resolver, each on its own SQLite file under the
// data directory, behind one echo server.
package server

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did"
	"github.com/ezheng/ezheng/did/didhttp"
	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/did/ledgerhttp"
	"github.com/ezheng/ezheng/internal/dpop"
	"github.com/ezheng/ezheng/internal/keys"
	"github.com/ezheng/ezheng/internal/problem"
	"github.com/ezheng/ezheng/internal/safehttp"
	"github.com/ezheng/ezheng/internal/web"
	"github.com/ezheng/ezheng/issuer"
	"github.com/ezheng/ezheng/issuer/issuerhttp"
	"github.com/ezheng/ezheng/issuer/issuerstore"
	mobilebridge "github.com/ezheng/ezheng/mobile-bridge"
	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/verifier/bundle"
	"github.com/ezheng/ezheng/verifier/verifierhttp"
	"github.com/ezheng/ezheng/verifier/verifierstore"
	"github.com/ezheng/ezheng/wallet"
	"github.com/ezheng/ezheng/wallet/walletstore"
)

// Config configures the whole server.
type Config struct {
	DataDir   string
	MasterKey []byte // 32 bytes; see keys.LoadMaster
	Logger    *slog.Logger
	Now       func() time.Time // injected clock for all components; time.Now when nil
	// QRValidity is how long a counter QR stays valid (wallet) and how old one may be (verifier).
	QRValidity time.Duration
	// LedgerOrigin names the ledger in its checkpoints (and its key); used at genesis only.
	LedgerOrigin string
	// AnchorInterval and AnchorBatch: the issuer anchors pending credential digests every
	// interval, in batches of at most AnchorBatch.
	AnchorInterval time.Duration
	AnchorBatch    int
	// RootAuthorityName names the root authority made at genesis.
	RootAuthorityName string
	// PublicURL is the base URL clients reach the server at, without a trailing slash: the
	// OpenID4VCI credential issuer identifier and the base of status list URLs.
	PublicURL string
	// DPoPNonces makes the bridge require a server nonce in every DPoP proof (RFC 9449 §8):
	// a proof without a current one gets 401 use-dpop-nonce with a DPoP-Nonce header to retry
	// with. Off by default.
	DPoPNonces bool
	// VerifierPolicies is a directory of verification policy files (YAML or JSON) added to
	// the built-in ones (a file may replace a built-in policy of the same name); "" for none.
	VerifierPolicies string
	// WalletControl configures the wallet's presentation history, backups (the Argon2id cost)
	// and notifications; the zero value means the defaults.
	WalletControl wallet.ControlConfig
	// EventHeartbeat is how often the bridge's event stream sends a heartbeat;
	// mobilebridge.DefaultHeartbeat when zero.
	EventHeartbeat time.Duration
	// CredentialWatch is how often the wallet checks the status lists and expiry of the
	// credentials it holds, notifying citizens of changes; DefaultCredentialWatch when zero,
	// never when negative.
	CredentialWatch time.Duration
}

// Defaults for Config.
const (
	DefaultLedgerOrigin   = "ezheng.local/ledger"
	DefaultAnchorInterval = 200 * time.Millisecond
	DefaultAnchorBatch    = 10000
	DefaultRootAuthority  = "City Data Bureau (root authority)"
	// DefaultCredentialWatch is how often held credentials' status is checked.
	DefaultCredentialWatch = 10 * time.Minute
)

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("server: data directory is required")
	}
	if len(c.MasterKey) != keys.MasterKeySize {
		return keys.ErrMasterKey
	}
	if c.QRValidity < 0 {
		return errors.New("server: QR validity must not be negative")
	}
	if c.PublicURL == "" || strings.HasSuffix(c.PublicURL, "/") {
		return errors.New("server: PublicURL is required, without a trailing slash")
	}
	if c.AnchorInterval < 0 || c.AnchorBatch < 0 {
		return errors.New("server: anchor interval and batch must not be negative")
	}
	return nil
}

// Server is the assembled process. Close it to release the databases.
type Server struct {
	Echo     *echo.Echo
	Issuer   *issuer.Service
	Wallet   *wallet.Service
	Verifier *verifier.Service
	Ledger   *ledger.Ledger
	// Bundles exports the verifier's offline trust bundles (bundle.go).
	Bundles *bundle.Exporter
	// LedgerKey is the ledger's checkpoint verifier key in note-verifier form.
	LedgerKey string
	// OpenID4VP is the OpenID4VP verifier (oid4vp.go).
	OpenID4VP *verifier.OpenID4VP

	cfg        Config
	issuerDB   *issuerstore.Store
	walletDB   *walletstore.Store
	verifierDB *verifierstore.Store
	stop       context.CancelFunc
	done       chan struct{}
}

// Rules is every component's problem mapping, most specific first.
func Rules() [][]problem.Rule {
	return [][]problem.Rule{issuerhttp.Rules, mobilebridge.Rules, mobilebridge.DeviceKeyRules, mobilebridge.CitizenRules, mobilebridge.ShareRules, verifierhttp.OpenID4VPRules, verifierhttp.Rules, ledgerhttp.Rules}
}

// New opens the component databases under cfg.DataDir (creating it with mode 0700) and wires
// the services and HTTP routes.
func New(ctx context.Context, cfg Config) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LedgerOrigin == "" {
		cfg.LedgerOrigin = DefaultLedgerOrigin
	}
	if cfg.AnchorInterval == 0 {
		cfg.AnchorInterval = DefaultAnchorInterval
	}
	if cfg.AnchorBatch == 0 {
		cfg.AnchorBatch = DefaultAnchorBatch
	}
	if cfg.RootAuthorityName == "" {
		cfg.RootAuthorityName = DefaultRootAuthority
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	s := &Server{cfg: cfg}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.issuerDB, err = issuerstore.Open(ctx, filepath.Join(cfg.DataDir, "issuer.db")); err != nil {
		return nil, err
	}
	if s.walletDB, err = walletstore.Open(ctx, filepath.Join(cfg.DataDir, "wallet.db")); err != nil {
		return nil, err
	}
	if s.verifierDB, err = verifierstore.Open(ctx, filepath.Join(cfg.DataDir, "verifier.db")); err != nil {
		return nil, err
	}
	issuerSealer, err := keys.NewSealer(cfg.MasterKey, "issuer")
	if err != nil {
		return nil, err
	}
	walletSealer, err := keys.NewSealer(cfg.MasterKey, "wallet")
	if err != nil {
		return nil, err
	}
	log := cfg.Logger

	// The ledger: its node key, its genesis (made once, with the root authority), the engine.
	noteSigner, noteVerifier, vkey, err := ledgerKey(cfg.MasterKey, cfg.LedgerOrigin)
	if err != nil {
		return nil, err
	}
	s.LedgerKey = vkey
	genesis, err := s.genesis(ctx, issuerSealer, log)
	if err != nil {
		return nil, err
	}
	if s.Ledger, err = ledger.Open(ctx, ledger.Config{
		Path: filepath.Join(cfg.DataDir, "ledger.db"), Genesis: genesis, Signer: noteSigner, Verifier: noteVerifier,
		Now: cfg.Now, Logger: log.With("component", "ledger"),
	}); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, LedgerKeyFile), []byte(s.LedgerKey+"\n"), 0o644); err != nil {
		return nil, err
	}

	resolver := did.Methods{"ez": ledgerResolver{s.Ledger}, "key": did.Local{}, "jwk": did.Local{}, "web": did.Web{}}
	if s.Issuer, err = issuer.New(issuer.Config{Store: s.issuerDB, Anchors: s.issuerDB, Offers: s.issuerDB, Clients: s.issuerDB, Sealer: issuerSealer, Resolver: resolver,
		Ledger: s.Ledger, LedgerKey: noteVerifier, PublicURL: cfg.PublicURL, Statuses: s.issuerDB, Logger: log.With("component", "issuer"), Now: cfg.Now}); err != nil {
		return nil, err
	}
	// A demo server on a loopback address lets its own wallet fetch http://127.0.0.1 offers;
	// anywhere else the wallet reaches only public https issuers.
	devLoopback := isLoopbackHTTP(cfg.PublicURL)
	// Citizen accounts (issue #5): phone numbers, codes and audit subjects are HMACed under a
	// key derived from the master key. One-time codes go to the dev outbox (logged; readable
	// at GET /bridge/v1/dev/outbox on a loopback demo server only): a real deployment plugs
	// in an SMS CodeSender and a national real-name IdentityProofer here.
	accountSecret, err := hkdf.Key(sha256.New, cfg.MasterKey, nil, "ezheng/wallet/accounts/v1", 32)
	if err != nil {
		return nil, err
	}
	outbox := wallet.NewDevOutbox(log.With("component", "wallet"), cfg.Now)
	if s.Wallet, err = wallet.New(wallet.Config{Store: s.walletDB, Sealer: walletSealer, Resolver: resolver, Logger: log.With("component", "wallet"),
		AccountSecret: accountSecret, Proofer: wallet.DemoProofer{}, Codes: outbox,
		Now: cfg.Now, QRValidity: cfg.QRValidity, HTTPClient: safehttp.Client(devLoopback), AllowLoopbackHTTP: devLoopback, Control: cfg.WalletControl,
		// Every credential the wallet receives is checked by the verifier's engine, and its
		// anchor receipt fetched from the issuer by digest and verified (walletcheck.go).
		Checker: walletChecker{s}, Anchors: wallet.AnchorConfig{Receipts: walletReceipts{s.Issuer}, LedgerKeys: note.VerifierList(noteVerifier)}}); err != nil {
		return nil, err
	}
	// The verifier fetches status lists over HTTP, caching them for their max-age unless the
	// ledger holds a newer digest (a revocation shows at once).
	statusLists := anchoredStatusLists{verifier.NewStatusFetcher(verifier.StatusFetcherConfig{Client: safehttp.Client(devLoopback), Now: cfg.Now}), s.Ledger}
	policies := verifier.BuiltinPolicies()
	if cfg.VerifierPolicies != "" {
		extra, err := verifier.LoadPolicies(os.DirFS(cfg.VerifierPolicies))
		if err != nil {
			return nil, fmt.Errorf("verifier policies %s: %w", cfg.VerifierPolicies, err)
		}
		policies = policies.With(extra)
	}
	if s.Verifier, err = verifier.New(verifier.Config{Store: s.verifierDB, Trust: s.Ledger, Resolver: resolver, Logger: log.With("component", "verifier"), Now: cfg.Now, QRMaxAge: cfg.QRValidity,
		StatusLists: statusLists, LedgerKeys: note.VerifierList(noteVerifier), Anchors: issuerAnchors{s.Issuer}, Policies: policies}); err != nil {
		return nil, err
	}

	s.Echo = web.New(web.Config{
		Logger:  log,
		Mapper:  problem.NewMapper(Rules()...),
		OpenAPI: OpenAPI,
		Ready:   s.ready,
		// Problem titles on /bridge/ routes follow Accept-Language (en, zh-CN).
		Localize: mobilebridge.LocalizeProblem,
	})
	issuerhttp.Register(s.Echo, s.Issuer)
	issuerhttp.RegisterOpenID4VCI(s.Echo, s.Issuer)
	// Credentials stored before per-citizen data keys are re-sealed with them (idempotent).
	if _, err := s.Wallet.ResealAll(ctx); err != nil {
		return nil, fmt.Errorf("wallet: re-seal: %w", err)
	}
	dpopCfg := dpop.Config{Replay: s.Wallet.ReplayCache(), Now: cfg.Now}
	if cfg.DPoPNonces {
		nonceKey, err := hkdf.Key(sha256.New, cfg.MasterKey, nil, "ezheng/bridge/dpop-nonce/v1", 32)
		if err != nil {
			return nil, err
		}
		if dpopCfg.Nonces, err = dpop.NewNonces(nonceKey, 0, cfg.Now); err != nil {
			return nil, err
		}
	}
	dpopVerifier, err := dpop.NewVerifier(dpopCfg)
	if err != nil {
		return nil, err
	}
	bridgeCfg := mobilebridge.Config{PublicURL: cfg.PublicURL, DPoP: dpopVerifier}
	if devLoopback {
		bridgeCfg.Outbox = outbox
	}
	if err := mobilebridge.Register(s.Echo, s.Wallet, bridgeCfg); err != nil {
		return nil, err
	}
	if err := mobilebridge.RegisterShare(s.Echo, s.Wallet, s.Wallet, bridgeCfg); err != nil {
		return nil, err
	}
	// History, backup/restore and the notification stream (issue #5, "The citizen stays in
	// control"). Streams end when ctx (the serve context) is cancelled or at Close.
	if err := mobilebridge.RegisterCitizen(s.Echo, s.Wallet, bridgeCfg, mobilebridge.CitizenConfig{Heartbeat: cfg.EventHeartbeat}); err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, s.Wallet.CloseEvents)
	verifierhttp.Register(s.Echo, s.Verifier)
	if err := s.registerOpenID4VP(ctx, devLoopback); err != nil {
		return nil, err
	}
	verifierhttp.RegisterRecords(s.Echo, s.Verifier, s.auditor)
	ledgerhttp.Register(s.Echo, s.Ledger)
	didhttp.Register(s.Echo, resolver)
	if err := s.registerBundle(statusLists); err != nil {
		return nil, err
	}

	// Bulk issuance jobs (issue #4): uploads over HTTP, issued by a background worker.
	bulk, err := issuer.NewBulk(issuer.BulkConfig{Service: s.Issuer, Store: s.issuerDB})
	if err != nil {
		return nil, err
	}
	issuerhttp.RegisterBulk(s.Echo, bulk)

	// Background work: the issuer's anchoring batcher and the bulk worker.
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop, s.done = stop, make(chan struct{})
	watch := cfg.CredentialWatch
	if watch == 0 {
		watch = DefaultCredentialWatch
	}
	context.AfterFunc(bg, s.Wallet.CloseEvents)
	go func() {
		defer close(s.done)
		watchDone := make(chan struct{})
		go func() { defer close(watchDone); s.Wallet.WatchCredentials(bg, statusLists, watch) }()
		defer func() { <-watchDone }()
		receiptsDone := make(chan struct{})
		go func() { defer close(receiptsDone); s.Wallet.RunAnchorReceipts(bg) }()
		defer func() { <-receiptsDone }()
		bulkDone := make(chan struct{})
		go func() { defer close(bulkDone); bulk.Run(bg) }()
		s.Issuer.RunAnchoring(bg, cfg.AnchorInterval, cfg.AnchorBatch)
		<-bulkDone
	}()
	return s, nil
}

// isLoopbackHTTP reports whether u is an http URL on a loopback host (a local demo).
func isLoopbackHTTP(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" {
		return false
	}
	h := p.Hostname()
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

func (s *Server) ready(ctx context.Context) error {
	return errors.Join(s.issuerDB.Ping(ctx), s.walletDB.Ping(ctx), s.verifierDB.Ping(ctx))
}

// Close stops the background work and closes the ledger and the databases.
func (s *Server) Close() error {
	if s.stop != nil {
		s.stop()
		<-s.done
		s.stop = nil
	}
	var errs []error
	if s.Ledger != nil {
		errs = append(errs, s.Ledger.Close())
	}
	if s.issuerDB != nil {
		errs = append(errs, s.issuerDB.Close())
	}
	if s.walletDB != nil {
		errs = append(errs, s.walletDB.Close())
	}
	if s.verifierDB != nil {
		errs = append(errs, s.verifierDB.Close())
	}
	return errors.Join(errs...)
}

// Counts reports how many credentials the issuer and the wallet hold, for tests that assert
// nothing was stored.
func (s *Server) Counts(ctx context.Context) (issued, held int, err error) {
	if issued, err = s.issuerDB.CountCredentials(ctx); err != nil {
		return
	}
	held, err = s.walletDB.CountCredentials(ctx)
	return
}
