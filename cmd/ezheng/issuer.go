package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezheng/ezheng/issuer/credtype"
)

func issuerCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "issuer", Short: "Agencies' tools: credential types, offers, agencies, bulk issuance, status, audit log"}
	cmd.AddCommand(typeCmd(stdout), offerCmd(stdout))
	cmd.AddCommand(agencyCmd(stdout))
	cmd.AddCommand(bulkCmd(stdout))
	cmd.AddCommand(auditCmd(stdout))
	return cmd
}

// typeCmd is `ezheng issuer type`: the built-in credential types (read locally), and with
// --token the types the agency sees on a server, its own included; `add` uploads one.
func typeCmd(stdout io.Writer) *cobra.Command {
	types := &cobra.Command{Use: "type", Short: "Credential types: the built-in ones, and (with --token) the agency's own on a server"}
	list := &cobra.Command{Use: "list", Short: "List the credential types (with --token: the ones the agency sees on --server)", Args: cobra.NoArgs}
	show := &cobra.Command{Use: "show TYPE", Short: "Print a type's metadata (SD-JWT VC type metadata), or with --example a valid example claims JSON", Args: cobra.ExactArgs(1)}
	show.Flags().Bool("example", false, "print a valid example of the type's claims instead")
	add := &cobra.Command{
		Use:   "add FILE",
		Short: "Add a credential type of the agency's own from a type file (YAML or JSON, as issuer/credtype/types)",
		Long: "add uploads FILE (.yaml, .yml or .json, the format of the shipped types in issuer/credtype/types) to the\n" +
			"server as a type of the token's agency. The server checks the whole file and stores nothing if anything is\n" +
			"wrong, listing every problem by field. The type is visible and usable by this agency only; issuing it needs\n" +
			"the ledger's accreditation of the agency for the type's vct. It prints the type's metadata.",
		Args: cobra.ExactArgs(1),
	}
	for _, c := range []*cobra.Command{list, show, add} {
		serverFlag(c)
		c.Flags().String("token", "", "the agency's API token (list and show: without it, the built-in types, read locally)")
	}
	add.MarkFlagRequired("token")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		if tok := getString(fs, "token"); tok != "" {
			var l struct {
				Types []struct {
					Name, VCT, Validity, Approval string
					Formats                       []string
					Display                       map[string]string
					Own                           bool
				}
			}
			if err := agencyGet(cmd.Context(), getString(fs, "server"), "/issuer/v1/types", tok, &l); err != nil {
				return err
			}
			fmt.Fprintln(w, "NAME\tVCT\tVALIDITY\tAPPROVAL\tFORMATS\tOWN\tNAME (zh-CN)")
			for _, t := range l.Types {
				own := ""
				if t.Own {
					own = "yes"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.VCT, t.Validity, t.Approval, strings.Join(t.Formats, ","), own, t.Display["zh-CN"])
			}
			return w.Flush()
		}
		fmt.Fprintln(w, "NAME\tVCT\tVALIDITY\tAPPROVAL\tFORMATS\tNAME (zh-CN)")
		for _, t := range credtype.Builtin().All() {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.VCT, t.Validity, t.Approval, strings.Join(t.Formats, ","), displayName(t, "zh-CN"))
		}
		return w.Flush()
	}
	show.RunE = func(cmd *cobra.Command, args []string) error {
		fs := cmd.Flags()
		ex, _ := fs.GetBool("example")
		if tok := getString(fs, "token"); tok != "" {
			p := "/issuer/v1/types/" + url.PathEscape(args[0])
			if ex {
				p += "?example=true"
			}
			var v any
			if err := agencyGet(cmd.Context(), getString(fs, "server"), p, tok, &v); err != nil {
				return err
			}
			return printJSON(stdout, v)
		}
		t, err := credtype.Builtin().Lookup(args[0])
		if err != nil {
			return fmt.Errorf("%w (an agency's own type: pass --server and --token)", err)
		}
		if ex {
			return printJSON(stdout, t.Example())
		}
		return printJSON(stdout, t.TypeMetadata())
	}
	add.RunE = func(cmd *cobra.Command, args []string) error {
		fs := cmd.Flags()
		b, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		ctype := "application/yaml"
		switch filepath.Ext(args[0]) {
		case ".json":
			ctype = "application/json"
		case ".yaml", ".yml":
		default:
			return fmt.Errorf("%s: a type file is .yaml, .yml or .json", args[0])
		}
		return agencySend(cmd.Context(), stdout, http.MethodPost, getString(fs, "server"), "/issuer/v1/types", getString(fs, "token"), ctype, b)
	}
	types.AddCommand(list, show, add)
	return types
}

// auditCmd is `ezheng issuer audit`: the agency's own audit log, every page.
func auditCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Print the agency's audit log (admin and status actions: who, when, what, why), oldest first",
		Long: "audit reads the token's agency's audit log from the server, page by page, and prints one line per entry:\n" +
			"seq, time, actor (token:<hash prefix> or client:<id>), action, target, reason. --json prints the entries\n" +
			"as a JSON array instead.",
		Args: cobra.NoArgs,
	}
	serverFlag(cmd)
	cmd.Flags().String("token", "", "the agency's API token")
	cmd.Flags().Int64("after", 0, "start after this seq")
	cmd.Flags().Int("limit", 0, "entries per request (default 100, at most 1000)")
	cmd.Flags().Bool("json", false, "print the entries as a JSON array")
	cmd.MarkFlagRequired("token")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		after, _ := fs.GetInt64("after")
		limit, _ := fs.GetInt("limit")
		asJSON, _ := fs.GetBool("json")
		var all []map[string]any
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		if !asJSON {
			fmt.Fprintln(w, "SEQ\tAT\tACTOR\tACTION\tTARGET\tREASON")
		}
		for {
			q := url.Values{"after": {strconv.FormatInt(after, 10)}}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			var page struct {
				Entries []map[string]any `json:"entries"`
				Next    int64            `json:"next"`
			}
			if err := agencyGet(cmd.Context(), getString(fs, "server"), "/issuer/v1/audit?"+q.Encode(), getString(fs, "token"), &page); err != nil {
				return err
			}
			for _, e := range page.Entries {
				if asJSON {
					all = append(all, e)
					continue
				}
				fmt.Fprintf(w, "%v\t%v\t%v\t%v\t%v\t%v\n", e["seq"], e["at"], e["actor"], e["action"], e["target"], orDash(e["reason"]))
			}
			if page.Next == 0 {
				break
			}
			after = page.Next
		}
		if asJSON {
			if all == nil {
				all = []map[string]any{}
			}
			return printJSON(stdout, all)
		}
		return w.Flush()
	}
	return cmd
}

func orDash(v any) any {
	if v == nil || v == "" {
		return "-"
	}
	return v
}

func offerCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "offer",
		Short: "Make an OpenID4VCI credential offer (deep link + QR + transaction code) for a citizen's wallet",
		Long: "offer asks the server for a pre-authorized credential offer of TYPE with the claims in FILE. It prints\n" +
			"{\"offer_uri\", \"tx_code\", \"qr_png\"}: show the QR or send the link to the citizen, and the code by\n" +
			"another channel. Any OpenID4VCI 1.0 wallet can redeem it.",
		Args: cobra.NoArgs,
	}
	serverFlag(cmd)
	cmd.Flags().String("token", "", "the agency's API token")
	cmd.Flags().String("type", "", "credential type, e.g. DrivingLicence (see `ezheng issuer type list`)")
	cmd.Flags().String("claims", "", "JSON file with the claims (`ezheng issuer type show TYPE --example` prints one)")
	cmd.Flags().Bool("no-tx-code", false, "make an offer without a transaction code")
	cmd.Flags().String("qr-png", "", "where to write the QR image (default: a file in the temporary directory)")
	for _, f := range []string{"token", "type", "claims"} {
		cmd.MarkFlagRequired(f)
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		b, err := os.ReadFile(getString(fs, "claims"))
		if err != nil {
			return err
		}
		var claims map[string]any
		if err := json.Unmarshal(b, &claims); err != nil {
			return fmt.Errorf("%s: %w", getString(fs, "claims"), err)
		}
		noTx, _ := fs.GetBool("no-tx-code")
		body, _ := json.Marshal(map[string]any{"type": getString(fs, "type"), "claims": claims, "tx_code": !noTx})
		req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, getString(fs, "server")+"/issuer/v1/offers", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+getString(fs, "token"))
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("offer: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(rb)))
		}
		var o struct {
			ID     string `json:"offer_id"`
			URI    string `json:"offer_uri"`
			TxCode string `json:"tx_code"`
			PNG    string `json:"qr_png"`
		}
		if err := json.Unmarshal(rb, &o); err != nil {
			return err
		}
		png, err := base64.StdEncoding.DecodeString(o.PNG)
		if err != nil {
			return err
		}
		file := getString(fs, "qr-png")
		if file == "" {
			file = filepath.Join(os.TempDir(), "ezheng-offer-"+o.ID+".png")
		}
		if err := os.WriteFile(file, png, 0o644); err != nil {
			return err
		}
		return printJSON(stdout, map[string]string{"offer_uri": o.URI, "tx_code": o.TxCode, "qr_png": file})
	}
	return cmd
}

func displayName(t *credtype.Type, lang string) string {
	for _, d := range t.Display {
		if d.Lang == lang {
			return d.Name
		}
	}
	return ""
}
