package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spf13/cobra"

	"github.com/ezheng/ezheng/did/ledger"
)

// keyFile is what `ezheng did` keeps for a DID it controls: the private keys, as JWKs. It is
// written with mode 0600; whoever holds it controls the DID.
type keyFile struct {
	DID      string          `json:"did"`
	KeyID    string          `json:"key_id"` // the current signing key's fragment, "#key-1"
	Signing  jose.JSONWebKey `json:"signing"`
	Update   jose.JSONWebKey `json:"update"`
	Recovery jose.JSONWebKey `json:"recovery"`
}

func newEd25519() jose.JSONWebKey {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("no randomness: " + err.Error())
	}
	return jose.JSONWebKey{Key: priv}
}

func signer(k jose.JSONWebKey) ed25519.PrivateKey { return k.Key.(ed25519.PrivateKey) }
func public(k jose.JSONWebKey) ed25519.PublicKey  { return signer(k).Public().(ed25519.PublicKey) }

func loadKeyFile(name string) (*keyFile, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var kf keyFile
	if err := json.Unmarshal(b, &kf); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, k := range []jose.JSONWebKey{kf.Signing, kf.Update, kf.Recovery} {
		if _, ok := k.Key.(ed25519.PrivateKey); !ok {
			return nil, fmt.Errorf("%s: keys must be private Ed25519 JWKs", name)
		}
	}
	return &kf, nil
}

// save writes the key file atomically with mode 0600.
func (kf *keyFile) save(name string) error {
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return err
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

func didCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "did", Short: "Create, change and resolve did:ez DIDs on the ledger"}
	cmd.AddCommand(didCreateCmd(stdout), didResolveCmd(stdout), didUpdateCmd(stdout), didRotateCmd(stdout),
		didRecoverCmd(stdout), didDeactivateCmd(stdout))
	return cmd
}

func keysFlag(cmd *cobra.Command) {
	cmd.Flags().String("keys", "", "key file of the DID (JSON, mode 0600)")
	cmd.MarkFlagRequired("keys")
}

func didCreateCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "create", Short: "Make new keys and create a did:ez DID with them", Args: cobra.NoArgs}
	serverFlag(cmd)
	keysFlag(cmd)
	cmd.Flags().StringArray("service", nil, "service as id,type,endpoint (repeatable), e.g. \"#issuer,CredentialIssuer,https://psb.example\"")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		file := getString(fs, "keys")
		if _, err := os.Stat(file); err == nil {
			return fmt.Errorf("%s exists: refusing to overwrite the keys of another DID", file)
		}
		kf := &keyFile{KeyID: "#key-1", Signing: newEd25519(), Update: newEd25519(), Recovery: newEd25519()}
		doc := ledger.NewDocument(public(kf.Signing))
		services, _ := fs.GetStringArray("service")
		for _, s := range services {
			svc, err := parseService(s)
			if err != nil {
				return err
			}
			doc.Services = append(doc.Services, svc)
		}
		op, err := ledger.NewCreate(doc, public(kf.Update), public(kf.Recovery))
		if err != nil {
			return err
		}
		jws, err := ledger.SignOp(op, signer(kf.Update), "")
		if err != nil {
			return err
		}
		kf.DID = ledger.DIDOf(op)
		// Keep the keys before the DID exists, so they are never lost.
		if err := kf.save(file); err != nil {
			return err
		}
		res, err := submitOp(cmd.Context(), getString(fs, "server"), jws)
		if err != nil {
			os.Remove(file)
			return err
		}
		return printJSON(stdout, map[string]any{"did": kf.DID, "keys": file, "leaf_index": res.LeafIndex, "height": res.Height})
	}
	return cmd
}

func parseService(s string) (ledger.Service, error) {
	p := strings.SplitN(s, ",", 3)
	if len(p) != 3 {
		return ledger.Service{}, fmt.Errorf("--service %q: want id,type,endpoint", s)
	}
	return ledger.Service{ID: p[0], Type: p[1], Endpoint: p[2]}, nil
}

func didResolveCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "resolve DID", Short: "Resolve a DID (did:ez, did:key, did:jwk) through a server", Args: cobra.ExactArgs(1)}
	serverFlag(cmd)
	cmd.Flags().String("version-id", "", "resolve this version")
	cmd.Flags().String("version-time", "", "resolve the version in force at this time (RFC 3339)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		fs := cmd.Flags()
		b, err := resolveDID(cmd.Context(), getString(fs, "server"), args[0], getString(fs, "version-id"), getString(fs, "version-time"))
		if err != nil {
			return err
		}
		return printJSON(stdout, json.RawMessage(b))
	}
	return cmd
}

func resolveDID(ctx context.Context, server, d, versionID, versionTime string) ([]byte, error) {
	q := url.Values{}
	if versionID != "" {
		q.Set("versionId", versionID)
	}
	if versionTime != "" {
		q.Set("versionTime", versionTime)
	}
	u := server + "/1.0/identifiers/" + url.PathEscape(d)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return httpGet(ctx, u)
}

// currentVersion returns the versionId of d's current document.
func currentVersion(ctx context.Context, server, d string) (string, error) {
	b, err := resolveDID(ctx, server, d, "", "")
	if err != nil {
		return "", err
	}
	var res struct {
		Meta struct {
			VersionID string `json:"versionId"`
		} `json:"didDocumentMetadata"`
	}
	if err := json.Unmarshal(b, &res); err != nil || res.Meta.VersionID == "" {
		return "", fmt.Errorf("%s: resolution has no versionId", d)
	}
	return res.Meta.VersionID, nil
}

func didUpdateCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "update", Short: "Add or remove services of a DID you control", Args: cobra.NoArgs}
	serverFlag(cmd)
	keysFlag(cmd)
	cmd.Flags().StringArray("add-service", nil, "service to add as id,type,endpoint (repeatable)")
	cmd.Flags().StringArray("remove-service", nil, "id of a service to remove (repeatable)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		kf, err := loadKeyFile(getString(fs, "keys"))
		if err != nil {
			return err
		}
		var patches []ledger.Patch
		adds, _ := fs.GetStringArray("add-service")
		if len(adds) > 0 {
			p := ledger.Patch{Action: ledger.ActionAddServices}
			for _, s := range adds {
				svc, err := parseService(s)
				if err != nil {
					return err
				}
				p.Services = append(p.Services, svc)
			}
			patches = append(patches, p)
		}
		if rm, _ := fs.GetStringArray("remove-service"); len(rm) > 0 {
			patches = append(patches, ledger.Patch{Action: ledger.ActionRemoveServices, IDs: rm})
		}
		if len(patches) == 0 {
			return errors.New("nothing to change: give --add-service or --remove-service")
		}
		return updateDID(cmd.Context(), stdout, getString(fs, "server"), kf, getString(fs, "keys"), patches, nil)
	}
	return cmd
}

func didRotateCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Replace the DID's signing key and update key with new ones",
		Long: "rotate adds a new signing key, makes it the only authentication and assertion key, removes the old one,\n" +
			"and rotates the update key, in one ledger update. Credentials signed before stay verifiable: the ledger\n" +
			"keeps every version, and verifiers resolve the key the issuer had when it signed.",
		Args: cobra.NoArgs,
	}
	serverFlag(cmd)
	keysFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		kf, err := loadKeyFile(getString(fs, "keys"))
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(strings.TrimPrefix(kf.KeyID, "#key-"))
		if err != nil {
			return fmt.Errorf("key id %q: want #key-N", kf.KeyID)
		}
		newSigning, newUpdate := newEd25519(), newEd25519()
		newID := fmt.Sprintf("#key-%d", n+1)
		patches := []ledger.Patch{
			{Action: ledger.ActionAddKeys, Keys: []ledger.Key{{ID: newID, JWK: &jose.JSONWebKey{Key: public(newSigning)}}}},
			{Action: ledger.ActionSetRelationships, Authentication: []string{newID}, AssertionMethod: []string{newID}},
			{Action: ledger.ActionRemoveKeys, IDs: []string{kf.KeyID}},
		}
		return updateDID(cmd.Context(), stdout, getString(fs, "server"), kf, getString(fs, "keys"), patches, func() {
			kf.KeyID, kf.Signing, kf.Update = newID, newSigning, newUpdate
		}, newUpdate)
	}
	return cmd
}

// updateDID signs an update of kf.DID with its update key (rotating the update key to
// nextUpdate when given), submits it, and on success applies done to kf and saves it.
func updateDID(ctx context.Context, stdout io.Writer, server string, kf *keyFile, file string, patches []ledger.Patch, done func(), nextUpdate ...jose.JSONWebKey) error {
	prev, err := currentVersion(ctx, server, kf.DID)
	if err != nil {
		return err
	}
	op := ledger.NewUpdate(kf.DID, prev, patches...)
	if len(nextUpdate) > 0 {
		op.NextUpdateKey = &jose.JSONWebKey{Key: public(nextUpdate[0])}
	}
	jws, err := ledger.SignOp(op, signer(kf.Update), "")
	if err != nil {
		return err
	}
	res, err := submitOp(ctx, server, jws)
	if err != nil {
		return err
	}
	if done != nil {
		done()
		if err := kf.save(file); err != nil {
			return fmt.Errorf("the ledger accepted the change but the key file could not be saved: %w", err)
		}
	}
	return printJSON(stdout, map[string]any{"did": kf.DID, "leaf_index": res.LeafIndex, "height": res.Height, "previous_version": prev})
}

func didRecoverCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "Replace every key of the DID, signed with the recovery key (after a compromise)",
		Args:  cobra.NoArgs,
	}
	serverFlag(cmd)
	keysFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		file, server := getString(fs, "keys"), getString(fs, "server")
		kf, err := loadKeyFile(file)
		if err != nil {
			return err
		}
		prev, err := currentVersion(cmd.Context(), server, kf.DID)
		if err != nil {
			return err
		}
		next := keyFile{DID: kf.DID, KeyID: "#key-1", Signing: newEd25519(), Update: newEd25519(), Recovery: newEd25519()}
		op, err := ledger.NewRecover(kf.DID, prev, ledger.NewDocument(public(next.Signing)), public(next.Update), public(kf.Recovery), public(next.Recovery))
		if err != nil {
			return err
		}
		jws, err := ledger.SignOp(op, signer(kf.Recovery), "")
		if err != nil {
			return err
		}
		res, err := submitOp(cmd.Context(), server, jws)
		if err != nil {
			return err
		}
		if err := next.save(file); err != nil {
			return fmt.Errorf("the ledger accepted the recovery but the key file could not be saved: %w", err)
		}
		return printJSON(stdout, map[string]any{"did": kf.DID, "leaf_index": res.LeafIndex, "height": res.Height, "previous_version": prev})
	}
	return cmd
}

func didDeactivateCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "deactivate", Short: "Deactivate the DID for good, signed with the recovery key", Args: cobra.NoArgs}
	serverFlag(cmd)
	keysFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		server := getString(fs, "server")
		kf, err := loadKeyFile(getString(fs, "keys"))
		if err != nil {
			return err
		}
		prev, err := currentVersion(cmd.Context(), server, kf.DID)
		if err != nil {
			return err
		}
		jws, err := ledger.SignOp(ledger.NewDeactivate(kf.DID, prev, public(kf.Recovery)), signer(kf.Recovery), "")
		if err != nil {
			return err
		}
		res, err := submitOp(cmd.Context(), server, jws)
		if err != nil {
			return err
		}
		return printJSON(stdout, map[string]any{"did": kf.DID, "deactivated": true, "leaf_index": res.LeafIndex, "height": res.Height})
	}
	return cmd
}

type submitResult struct {
	LeafIndex uint64 `json:"leaf_index"`
	Height    uint64 `json:"height"`
}

// submitOp posts a signed operation to the server's ledger; a rejection is an error naming
// the ledger's reason.
func submitOp(ctx context.Context, server, jws string) (submitResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"operation": jws})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+"/ledger/v1/operations", bytes.NewReader(body))
	if err != nil {
		return submitResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return submitResult{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		var p struct{ Detail string }
		json.Unmarshal(b, &p)
		return submitResult{}, fmt.Errorf("ledger: HTTP %d: %s", resp.StatusCode, p.Detail)
	}
	var r submitResult
	return r, json.Unmarshal(b, &r)
}
