package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezheng/ezheng/verifier/bundle"
)

func verifierCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "verifier", Short: "Verifier tools: offline trust bundles for counters, online services (OpenID4VP)"}
	b := &cobra.Command{Use: "bundle", Short: "Export and update offline trust bundles"}
	b.AddCommand(bundleExportCmd(stdout), bundleUpdateCmd(stdout))
	cmd.AddCommand(b, verifierServiceCmd(stdout))
	return cmd
}

// bundleKeyFlag defines --bundle-key.
func bundleKeyFlag(cmd *cobra.Command) {
	cmd.Flags().String("bundle-key", "", "the pinned bundle key (ed25519:<base64url> or sha256:<hex> fingerprint, or @file); default: the bundle file's .key file")
}

// pinFile is where the pinned key of a bundle file is kept.
func pinFile(bundleFile string) string { return bundleFile + ".key" }

// pinFor returns the pin of bundle file: --bundle-key, else the key file beside it.
func pinFor(flag, bundleFile string) (bundle.Pin, string, error) {
	s, from := flag, "--bundle-key"
	if f, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(f)
		if err != nil {
			return bundle.Pin{}, "", err
		}
		s, from = string(b), f
	}
	if s == "" {
		b, err := os.ReadFile(pinFile(bundleFile))
		if errors.Is(err, os.ErrNotExist) {
			return bundle.Pin{}, "", fmt.Errorf("no pinned bundle key: give --bundle-key or keep %s (written by the first export)", pinFile(bundleFile))
		}
		if err != nil {
			return bundle.Pin{}, "", err
		}
		s, from = string(b), pinFile(bundleFile)
	}
	p, err := bundle.ParsePin(s)
	if err != nil {
		return bundle.Pin{}, "", fmt.Errorf("%s: %w", from, err)
	}
	return p, from, nil
}

func bundleExportCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Download the server's full trust bundle, check it and write it to --out",
		Long: "export fetches GET /verifier/v1/bundle, checks its signature against the pinned bundle key and its ledger\n" +
			"checkpoint, and writes it to --out. Without --bundle-key and without <out>.key, the first export pins the\n" +
			"key the server names (GET /verifier/v1/bundle/key) into <out>.key: trust on first use, so fetch the first\n" +
			"bundle over a channel you trust, or give --bundle-key.",
		Args: cobra.NoArgs,
	}
	serverFlag(cmd)
	bundleKeyFlag(cmd)
	cmd.Flags().String("out", "", "bundle file to write")
	cmd.Flags().String("ledger-key", "", "ledger verifier key the checkpoint must be signed with (note-verifier form, or @file)")
	cmd.MarkFlagRequired("out")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		ctx, server, out := cmd.Context(), strings.TrimSuffix(getString(fs, "server"), "/"), getString(fs, "out")
		opts, err := bundleOptions(getString(fs, "ledger-key"))
		if err != nil {
			return err
		}
		pin, _, err := pinFor(getString(fs, "bundle-key"), out)
		writeKey := ""
		if err != nil && getString(fs, "bundle-key") == "" && !bundleFileExists(pinFile(out)) {
			var k struct{ Key string }
			b, err := httpGet(ctx, server+"/verifier/v1/bundle/key")
			if err != nil {
				return err
			}
			if err := json.Unmarshal(b, &k); err != nil {
				return fmt.Errorf("bundle key: %w", err)
			}
			if pin, err = bundle.ParsePin(k.Key); err != nil {
				return err
			}
			writeKey = k.Key
		} else if err != nil {
			return err
		}
		file, err := fetchBundle(ctx, server+"/verifier/v1/bundle")
		if err != nil {
			return err
		}
		b, err := bundle.Open(file, pin, opts)
		if err != nil {
			return err
		}
		// Never go back: a bundle already there with a higher sequence stays.
		if prev, err := os.ReadFile(out); err == nil {
			if old, err := bundle.Open(prev, pin, opts); err == nil && old.Seq() > b.Seq() {
				return fmt.Errorf("%w: the server's bundle is at sequence %d, %s is already at %d", bundle.ErrSequence, b.Seq(), out, old.Seq())
			}
		}
		if err := writeAtomic(out, file); err != nil {
			return err
		}
		if writeKey != "" {
			if err := os.WriteFile(pinFile(out), []byte(writeKey+"\n"), 0o644); err != nil {
				return err
			}
		}
		return printJSON(stdout, summary(b, out, 0))
	}
	return cmd
}

func bundleUpdateCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Bring a trust bundle up to date with a delta from the server",
		Long: "update opens --bundle (checked against the pinned key), fetches GET /verifier/v1/bundle?since=<its sequence>\n" +
			"and applies the delta. The delta must be signed by the pinned key, extend the bundle's ledger checkpoint\n" +
			"(consistency proof) and give exactly the bundle the server signed at the new sequence; only then is the\n" +
			"file replaced.",
		Args: cobra.NoArgs,
	}
	serverFlag(cmd)
	bundleKeyFlag(cmd)
	cmd.Flags().String("bundle", "", "bundle file to update in place")
	cmd.Flags().String("ledger-key", "", "ledger verifier key the checkpoint must be signed with (note-verifier form, or @file)")
	cmd.MarkFlagRequired("bundle")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		ctx, server, name := cmd.Context(), strings.TrimSuffix(getString(fs, "server"), "/"), getString(fs, "bundle")
		opts, err := bundleOptions(getString(fs, "ledger-key"))
		if err != nil {
			return err
		}
		pin, _, err := pinFor(getString(fs, "bundle-key"), name)
		if err != nil {
			return err
		}
		old, err := openBundleFile(name, pin, opts)
		if err != nil {
			return err
		}
		delta, err := fetchBundle(ctx, server+"/verifier/v1/bundle?since="+strconv.FormatUint(old.Seq(), 10))
		if err != nil {
			return err
		}
		nb, err := bundle.Apply(old, delta, pin, opts)
		if err != nil {
			return err
		}
		if err := writeAtomic(name, nb.File()); err != nil {
			return err
		}
		return printJSON(stdout, summary(nb, name, old.Seq()))
	}
	return cmd
}

func bundleOptions(ledgerKey string) (bundle.Options, error) {
	if f, ok := strings.CutPrefix(ledgerKey, "@"); ok {
		b, err := os.ReadFile(f)
		if err != nil {
			return bundle.Options{}, err
		}
		ledgerKey = string(b)
	}
	return bundle.Options{LedgerKey: strings.TrimSpace(ledgerKey)}, nil
}

func openBundleFile(name string, pin bundle.Pin, opts bundle.Options) (*bundle.Bundle, error) {
	file, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	b, err := bundle.Open(file, pin, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// bundleSummary is what export and update print.
type bundleSummary struct {
	File        string    `json:"file"`
	From        uint64    `json:"from_seq,omitempty"`
	Seq         uint64    `json:"seq"`
	Created     time.Time `json:"created"`
	Issuers     int       `json:"issuers"`
	StatusLists int       `json:"status_lists"`
	Policies    int       `json:"policies"`
	Bytes       int       `json:"bytes"`
	Key         string    `json:"key"`
	Digest      string    `json:"digest"`
}

func summary(b *bundle.Bundle, file string, from uint64) bundleSummary {
	c := b.Content()
	n := 0
	for _, is := range c.Issuers {
		n += len(is.StatusLists)
	}
	return bundleSummary{File: file, From: from, Seq: b.Seq(), Created: b.Created(), Issuers: len(c.Issuers), StatusLists: n,
		Policies: len(c.Policies), Bytes: len(b.File()), Key: b.Key().Fingerprint(), Digest: b.Digest()}
}

// fetchBundle GETs a bundle or delta (up to the default file limit).
func fetchBundle(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, bundle.DefaultLimits.File+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d: %.300s", u, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// writeAtomic replaces name with b (through a temporary file in the same directory).
func writeAtomic(name string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), name)
}

func bundleFileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}
