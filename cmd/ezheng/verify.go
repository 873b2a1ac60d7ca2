package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/internal/qr"
	"github.com/ezheng/ezheng/verifier"
	"github.com/ezheng/ezheng/verifier/bundle"
)

// errNotValid is returned (exit status 1) after printing a result that is not valid.
var errNotValid = errors.New("not valid")

func verifyCmd(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify <qr-text | png-file | credential-file> --bundle FILE",
		Short: "Verify a QR, a QR picture or a credential offline, from a trust bundle",
		Long: "verify checks what a citizen shows with no network at all: issuer keys (as they were at issuance),\n" +
			"accreditations, status lists and policies all come from the trust bundle, which must be signed by the\n" +
			"pinned bundle key. It prints the same JSON as POST /verifier/v1/verify, whose \"source\" states the\n" +
			"bundle and its age, and exits with status 1 when the result is not valid.\n\n" +
			"A bundle older than the policy's max_bundle_age (or --max-bundle-age for policies that set none) fails\n" +
			"the policy check (rule max_bundle_age), or only warns with --stale flag (or the policy's stale_bundle).",
		Args: cobra.ExactArgs(1),
	}
	bundleKeyFlag(cmd)
	fs := cmd.Flags()
	fs.String("bundle", "", "trust bundle file (from ezheng verifier bundle export)")
	fs.String("policy", "", "policy to apply (default: the counter's, else \"default\"); the bundle's policies and the built-in ones")
	fs.String("counter", "", "the scanning counter's id: the QR's audience")
	fs.Duration("max-bundle-age", 24*time.Hour, "how old the bundle may be, for policies that set no max_bundle_age (given explicitly: for all)")
	fs.String("stale", verifier.StaleRefuse, "what a stale bundle does, for policies that set no stale_bundle: refuse or flag")
	fs.String("ledger-key", "", "ledger verifier key the bundle's checkpoint must be signed with (note-verifier form, or @file)")
	fs.String("now", "", "verify as of this RFC 3339 time instead of the clock (audits, tests)")
	fs.MarkHidden("now")
	addSettings(fs, getenv, "qr-validity")
	cmd.MarkFlagRequired("bundle")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		now := time.Now
		if s := getString(fs, "now"); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return fmt.Errorf("--now: %w", err)
			}
			now = func() time.Time { return t }
		}
		qrMaxAge, err := getDuration(fs, "qr-validity")
		if err != nil {
			return fmt.Errorf("--qr-validity: %w", err)
		}
		name := getString(fs, "bundle")
		opts, err := bundleOptions(getString(fs, "ledger-key"))
		if err != nil {
			return err
		}
		pin, _, err := pinFor(getString(fs, "bundle-key"), name)
		if err != nil {
			return err
		}
		b, err := openBundleFile(name, pin, opts)
		if err != nil {
			return err
		}
		maxAge, _ := fs.GetDuration("max-bundle-age")
		policies, err := offlinePolicies(b, maxAge, fs.Changed("max-bundle-age"), getString(fs, "stale"), fs.Changed("stale"))
		if err != nil {
			return err
		}
		text, err := readPresentation(args[0])
		if err != nil {
			return err
		}
		store := &memCounters{}
		counter := getString(fs, "counter")
		if counter != "" {
			store.SaveCounter(ctx, verifier.Counter{ID: counter, Name: counter})
		}
		var ledgerKeys note.Verifiers
		if v, err := note.NewVerifier(b.Content().Ledger.Key); err == nil {
			ledgerKeys = note.VerifierList(v)
		}
		svc, err := verifier.New(verifier.Config{Store: store, Trust: b, Resolver: b, StatusLists: b, Source: b, Policies: policies,
			LedgerKeys: ledgerKeys, Now: now, QRMaxAge: qrMaxAge})
		if err != nil {
			return err
		}
		res, err := svc.Verify(ctx, text, verifier.Options{Counter: counter, Policy: getString(fs, "policy")})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "trust bundle %d (%s), made %s, %s old\n", b.Seq(), name, b.Created().Format(time.RFC3339), b.Age(now()).Truncate(time.Second))
		if err := printJSON(stdout, res); err != nil {
			return err
		}
		if !res.Valid {
			return fmt.Errorf("%w: failed %s", errNotValid, strings.Join(res.Failed(), ", "))
		}
		return nil
	}
	return cmd
}

// offlinePolicies returns the built-in policies with the bundle's, each given maxAge and
// stale when it sets none (or always, when the flag was given).
func offlinePolicies(b *bundle.Bundle, maxAge time.Duration, forceAge bool, stale string, forceStale bool) (*verifier.Policies, error) {
	if stale != verifier.StaleRefuse && stale != verifier.StaleFlag {
		return nil, fmt.Errorf("--stale %q: want refuse or flag", stale)
	}
	var bundled []*verifier.Policy
	names := make([]string, 0, len(b.Policies()))
	for n := range b.Policies() {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p, err := verifier.ParsePolicy(n, b.Policies()[n])
		if err != nil {
			return nil, fmt.Errorf("bundle policy %s: %w", n, err)
		}
		bundled = append(bundled, p)
	}
	fromBundle, err := verifier.NewPolicies(bundled...)
	if err != nil {
		return nil, err
	}
	var all []*verifier.Policy
	for _, p := range verifier.BuiltinPolicies().With(fromBundle).All() {
		c := *p
		if forceAge || c.MaxBundleAge.D == 0 {
			c.MaxBundleAge.D = maxAge
		}
		if forceStale || c.StaleBundle == "" {
			c.StaleBundle = stale
		}
		all = append(all, &c)
	}
	return verifier.NewPolicies(all...)
}

// readPresentation returns the text to verify: arg itself, or the contents of the file it
// names — a QR picture (PNG or JPEG) is decoded.
func readPresentation(arg string) (string, error) {
	st, err := os.Stat(arg)
	if err != nil || st.IsDir() {
		return arg, nil
	}
	if st.Size() > 4<<20 {
		return "", fmt.Errorf("%s: larger than 4 MiB", arg)
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return "", err
	}
	if bytes.HasPrefix(b, []byte("\x89PNG")) || bytes.HasPrefix(b, []byte("\xff\xd8\xff")) {
		return qr.Decode(b)
	}
	return strings.TrimSpace(string(b)), nil
}

// memCounters is the offline verifier's counter store: the one counter on the command line.
type memCounters struct {
	mu sync.Mutex
	m  map[string]verifier.Counter
}

func (s *memCounters) SaveCounter(_ context.Context, c verifier.Counter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]verifier.Counter{}
	}
	s.m[c.ID] = c
	return nil
}

func (s *memCounters) Counter(_ context.Context, id string) (verifier.Counter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.m[id]; ok {
		return c, nil
	}
	return verifier.Counter{}, fmt.Errorf("%w: counter %q (give --counter)", verifier.ErrNotFound, id)
}

func (s *memCounters) CounterByName(ctx context.Context, name string) (verifier.Counter, error) {
	return s.Counter(ctx, name)
}
