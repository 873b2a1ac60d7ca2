package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/did/ledger"
	"github.com/ezheng/ezheng/did/ledger/merklelog"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/server"
)

func ledgerCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "Inspect and check the DID ledger"}
	cmd.AddCommand(ledgerStatusCmd(stdout), ledgerCheckpointCmd(stdout), ledgerProofCmd(stdout),
		verifyReceiptCmd(stdout), ledgerAuditCmd(stdout, getenv))
	return cmd
}

func serverFlag(cmd *cobra.Command) {
	cmd.Flags().String("server", "http://127.0.0.1:8080", "base URL of an ezheng server")
}

func ledgerStatusCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "status", Short: "Print the node's height, log size, root and root authority", Args: cobra.NoArgs}
	serverFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		b, err := httpGet(cmd.Context(), getString(cmd.Flags(), "server")+"/ledger/v1/status")
		if err != nil {
			return err
		}
		return printJSON(stdout, json.RawMessage(b))
	}
	return cmd
}

func ledgerCheckpointCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "checkpoint", Short: "Print the newest signed checkpoint; with --ledger-key, verify it first", Args: cobra.NoArgs}
	serverFlag(cmd)
	cmd.Flags().String("ledger-key", "", "ledger verifier key (note-verifier form, or @file)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		b, err := httpGet(cmd.Context(), getString(cmd.Flags(), "server")+"/ledger/v1/checkpoint")
		if err != nil {
			return err
		}
		if k := getString(cmd.Flags(), "ledger-key"); k != "" {
			v, err := loadVerifier(k)
			if err != nil {
				return err
			}
			if _, err := merklelog.OpenCheckpoint(b, note.VerifierList(v)); err != nil {
				return err
			}
		}
		_, err = stdout.Write(b)
		return err
	}
	return cmd
}

func ledgerProofCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "proof", Short: "Print an inclusion proof (--index) or a consistency proof (--from) up to --tree-size", Args: cobra.NoArgs}
	serverFlag(cmd)
	cmd.Flags().Int64("index", -1, "leaf index for an inclusion proof")
	cmd.Flags().Int64("from", -1, "older tree size for a consistency proof")
	cmd.Flags().Uint64("tree-size", 0, "tree size the proof is for (a checkpoint's size)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		index, _ := fs.GetInt64("index")
		from, _ := fs.GetInt64("from")
		size, _ := fs.GetUint64("tree-size")
		q := url.Values{"tree_size": {fmt.Sprint(size)}}
		var path string
		switch {
		case index >= 0 && from < 0:
			path, q["index"] = "/ledger/v1/proofs/inclusion", []string{fmt.Sprint(index)}
		case from >= 0 && index < 0:
			path, q["from"] = "/ledger/v1/proofs/consistency", []string{fmt.Sprint(from)}
		default:
			return errors.New("give exactly one of --index and --from")
		}
		b, err := httpGet(cmd.Context(), getString(fs, "server")+path+"?"+q.Encode())
		if err != nil {
			return err
		}
		return printJSON(stdout, json.RawMessage(b))
	}
	return cmd
}

func verifyReceiptCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify-receipt",
		Short: "Check a credential's anchor receipt offline, with only the ledger's public key",
		Long: "verify-receipt checks that the credential's SHA-256 digest is in an issuer's batch, that the batch root\n" +
			"was anchored by an operation in the ledger's log, and that the log's checkpoint is signed by the ledger\n" +
			"key. It uses no network. Exit status 1 and the failed check when it does not hold.",
		Args: cobra.NoArgs,
	}
	cmd.Flags().String("receipt", "", "receipt JSON file")
	cmd.Flags().String("credential", "", "the credential as issued (file)")
	cmd.Flags().String("ledger-key", "", "ledger verifier key (note-verifier form, or @file)")
	for _, f := range []string{"receipt", "credential", "ledger-key"} {
		cmd.MarkFlagRequired(f)
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		rb, err := os.ReadFile(getString(fs, "receipt"))
		if err != nil {
			return err
		}
		cred, err := os.ReadFile(getString(fs, "credential"))
		if err != nil {
			return err
		}
		v, err := loadVerifier(getString(fs, "ledger-key"))
		if err != nil {
			return err
		}
		r, err := merklelog.ParseReceipt(rb)
		if err != nil {
			return fmt.Errorf("receipt: %w", err)
		}
		text := strings.TrimSpace(string(cred))
		if err := disclosuresBelong(text); err != nil {
			return fmt.Errorf("credential: %w", err)
		}
		cp, err := merklelog.VerifyReceipt(r, sdjwt.AnchoredForm(text), note.VerifierList(v))
		if err != nil {
			return fmt.Errorf("receipt does not hold: %w", err)
		}
		return printJSON(stdout, map[string]any{
			"valid":      true,
			"origin":     cp.Origin,
			"tree_size":  cp.Size,
			"height":     cp.Height,
			"leaf_index": r.LeafIndex,
			"batch_size": r.BatchSize,
		})
	}
	return cmd
}

// loadVerifier reads a note verifier key given inline or as @file.
func loadVerifier(s string) (note.Verifier, error) {
	if f, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		s = string(b)
	}
	v, err := note.NewVerifier(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("ledger key: %w", err)
	}
	return v, nil
}

func httpGet(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
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
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d: %s", u, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return b, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func ledgerAuditCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Replay a stopped node's whole log from genesis and check it against every stored checkpoint",
		Long: "audit opens the node's ledger database read-only, replays every block from genesis into a fresh state,\n" +
			"recomputes block hashes, log roots and state roots, and checks every stored checkpoint's signature and\n" +
			"contents. It prints a JSON report; exit status 1 if anything diverges.",
		Args: cobra.NoArgs,
	}
	addSettings(cmd.Flags(), getenv, "data")
	cmd.Flags().String("ledger-key", "", "ledger verifier key (note-verifier form, or @file); default: <data>/"+server.LedgerKeyFile)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		dataDir := getString(fs, "data")
		key := getString(fs, "ledger-key")
		if key == "" {
			key = "@" + filepath.Join(dataDir, server.LedgerKeyFile)
		}
		v, err := loadVerifier(key)
		if err != nil {
			return err
		}
		start, lastPct := time.Now(), -1
		progress := func(done, total uint64) {
			if total == 0 {
				return
			}
			if pct := int(done * 100 / total); pct != lastPct {
				lastPct = pct
				rate := float64(done) / max(time.Since(start).Seconds(), 1e-3)
				fmt.Fprintf(cmd.ErrOrStderr(), "\raudit: block %d of %d (%3d%%, %.0f blocks/s)", done, total, pct, rate)
			}
		}
		report, err := ledger.Audit(cmd.Context(), filepath.Join(dataDir, "ledger.db"), note.VerifierList(v), progress)
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		issues := []string{}
		for _, i := range report.Issues {
			issues = append(issues, i.String())
		}
		out := map[string]any{"ok": report.OK(), "blocks": report.Blocks, "log_size": report.LogSize,
			"checkpoints_checked": report.Checkpoints, "issues": issues, "truncated": report.Truncated}
		if h, ok := report.FirstDivergence(); ok {
			out["first_divergent_height"] = h
		}
		if err := printJSON(stdout, out); err != nil {
			return err
		}
		if !report.OK() {
			return errors.New("the ledger diverges from its checkpoints")
		}
		return nil
	}
	return cmd
}

// disclosuresBelong checks, for an SD-JWT, that every disclosure's digest is among those its
// issuer-signed JWT lists: the issuer JWT is what is anchored, and it commits to the
// disclosures only through those digests. Other text passes unchanged.
func disclosuresBelong(text string) error {
	if !strings.Contains(text, "~") {
		return nil
	}
	sd, err := sdjwt.Parse(text)
	if err != nil {
		return err
	}
	listed := map[string]bool{}
	digests, _ := sd.Payload["_sd"].([]any)
	for _, d := range digests {
		if s, ok := d.(string); ok {
			listed[s] = true
		}
	}
	for _, d := range sd.Disclosures {
		if !listed[d.Digest] {
			return fmt.Errorf("disclosure of %q is not one of the issuer's", d.Name)
		}
	}
	return nil
}
