package main

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezheng/ezheng/internal/compactqr"
	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/internal/qr"
	"github.com/ezheng/ezheng/internal/sdjwt"
	"github.com/ezheng/ezheng/internal/secret"
	"github.com/ezheng/ezheng/wallet"
)

// `ezheng citizen` with a holder key on the phone: the profile keeps a P-256 holder key
// (never sent; the wallet has only its public key), credentials are received bound to it,
// the bridge's signing requests are signed with it, and `sync` caches those credentials'
// text so that `qr --offline` makes a counter QR with no network at all.

// offlineQRValidity is how long an offline counter QR is good for: the counters' default
// maximum age of a key-binding JWT, as the wallet's default QR validity.
const offlineQRValidity = 60 * time.Second

// cachedCredential is a credential bound to the profile's holder key, as `citizen sync`
// fetched it (GET /bridge/v1/credentials/{id}): what `citizen qr --offline` presents.
type cachedCredential struct {
	Type       string    `json:"type"`
	Issuer     string    `json:"issuer"`
	Claims     []string  `json:"claims"`
	ExpiresAt  time.Time `json:"expires_at"`
	Credential string    `json:"credential"` // the SD-JWT VC as issued, every disclosure
	SyncedAt   time.Time `json:"synced_at"`
}

// holderSigner returns the profile's holder key, or an error saying how to make one.
func (p *citizenProfile) holderSigner() (crypto.Signer, error) {
	if len(p.HolderKey) == 0 || p.HolderKeyID == "" {
		return nil, errors.New("this phone has no registered holder key: run `ezheng citizen holder-key register`")
	}
	return demo.Citizen{DeviceKey: p.HolderKey}.DeviceSigner()
}

// signFor signs a JWS signing input the bridge handed the phone, as an app does after
// checking it: it must be for this phone's holder key (holderKeyID) and have the typ the
// step expects (kb+jwt for a presentation, openid4vci-proof+jwt for a receipt).
func (p *citizenProfile) signFor(holderKeyID, input, typ string) (string, error) {
	key, err := p.holderSigner()
	if err != nil {
		return "", err
	}
	if holderKeyID != p.HolderKeyID {
		return "", fmt.Errorf("the bridge asks for a signature by holder key %s, this phone holds %s", holderKeyID, p.HolderKeyID)
	}
	h, _, _ := strings.Cut(input, ".")
	hb, err := base64.RawURLEncoding.DecodeString(h)
	var header struct {
		Typ string `json:"typ"`
	}
	if err != nil || json.Unmarshal(hb, &header) != nil || header.Typ != typ {
		return "", fmt.Errorf("the bridge asks to sign something that is not a %s", typ)
	}
	return signJWSInput(key, input)
}

func citizenHolderKeyCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "holder-key",
		Short: "The holder key kept on this phone: credentials bound to it can be shown offline",
	}
	register := &cobra.Command{
		Use:   "register",
		Short: "Make a P-256 holder key kept in the profile and register its public key with proof of possession (POST /bridge/v1/holder-keys)",
		Long: `register makes a holder key (P-256) for this phone, unless the profile has one, keeps it in
the profile (mode 0600) and registers its public key: the proof is a holder-key+jwt signed by
the new key, its nonce the thumbprint of the phone's device (DPoP) key. The private key is
never sent. Credentials received with "receive --on-device" are bound to it; "sync" caches
them and "qr --offline" shows them at a counter without a network. Registering again is
harmless (the same key comes back).`,
		Args: cobra.NoArgs,
	}
	register.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := openCitizen(cmd)
		if err != nil {
			return err
		}
		if len(c.p.HolderKey) == 0 {
			if _, c.p.HolderKey, err = newDeviceKey(); err != nil {
				return err
			}
		}
		holder, err := demo.Citizen{DeviceKey: c.p.HolderKey}.DeviceSigner()
		if err != nil {
			return fmt.Errorf("%s: holder key: %w", c.file, err)
		}
		device, err := demo.Citizen{DeviceKey: c.p.DeviceKey}.DeviceSigner()
		if err != nil {
			return err
		}
		proof, err := holderKeyProof(holder, device, c.url("/bridge/v1/holder-keys"), time.Now())
		if err != nil {
			return err
		}
		var hk map[string]any
		if _, err := c.call(cmd.Context(), http.MethodPost, "/bridge/v1/holder-keys", map[string]string{"proof": proof}, &hk,
			http.StatusCreated, http.StatusOK); err != nil {
			return err
		}
		c.p.HolderKeyID, _ = hk["id"].(string)
		if err := c.p.save(c.file); err != nil {
			return err
		}
		return printJSON(stdout, hk)
	}
	cmd.AddCommand(register)
	return cmd
}

// receiveOnDevice redeems an offer for the profile's holder key in two steps (POST
// /bridge/v1/device-offers, then …/complete with the signed proof) and returns the status and
// answer of the second.
func (c *citizenClient) receiveOnDevice(cmd *cobra.Command, offer, txCode string) (int, json.RawMessage, error) {
	if _, err := c.p.holderSigner(); err != nil {
		return 0, nil, err
	}
	var sr wallet.SigningRequest
	if _, err := c.call(cmd.Context(), http.MethodPost, "/bridge/v1/device-offers",
		map[string]string{"offer_uri": offer, "tx_code": txCode, "holder_key": c.p.HolderKeyID}, &sr, http.StatusCreated); err != nil {
		return 0, nil, err
	}
	sig, err := c.p.signFor(sr.HolderKey, sr.SigningInput, "openid4vci-proof+jwt")
	if err != nil {
		return 0, nil, err
	}
	var out json.RawMessage
	status, err := c.call(cmd.Context(), http.MethodPost, "/bridge/v1/device-offers/"+url.PathEscape(sr.ID)+"/complete",
		map[string]string{"signature": sig}, &out, http.StatusCreated, http.StatusAccepted)
	return status, out, err
}

// presentOnDevice makes the counter QR of a credential bound to the profile's holder key
// online, in two steps: the bridge prepares the SD-JWT and its KB-JWT (POST
// /bridge/v1/credentials/{id}/presentations with body), the phone checks that the KB-JWT
// covers that SD-JWT and signs it, the bridge checks and answers the QR (…/complete + query).
func (c *citizenClient) presentOnDevice(cmd *cobra.Command, id string, body map[string]any, query string) (map[string]any, error) {
	base := "/bridge/v1/credentials/" + url.PathEscape(id) + "/presentations"
	var pr wallet.PresentationRequest
	if _, err := c.call(cmd.Context(), http.MethodPost, base, body, &pr, http.StatusCreated); err != nil {
		return nil, err
	}
	var kb struct {
		SDHash string `json:"sd_hash"`
	}
	if json.Unmarshal(pr.Payload, &kb) != nil || kb.SDHash != sdjwt.SDHash(pr.SDJWT) {
		return nil, errors.New("the bridge's key-binding JWT does not cover the presentation it shows")
	}
	sig, err := c.p.signFor(pr.HolderKey, pr.SigningInput, sdjwt.TypeKB)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	_, err = c.call(cmd.Context(), http.MethodPost, base+"/"+url.PathEscape(pr.ID)+"/complete"+query, map[string]string{"signature": sig}, &out, http.StatusOK)
	return out, err
}

// problemType returns the type of an RFC 9457 problem body, "" for anything else.
func problemType(body []byte) string {
	var p struct {
		Type string `json:"type"`
	}
	json.Unmarshal(body, &p)
	return p.Type
}

// signShare signs the KB-JWTs of a consent that waits for the phone (202 from
// POST /bridge/v1/share-requests/consent) and completes it; it returns what was shared.
func (c *citizenClient) signShare(cmd *cobra.Command, sign wallet.ShareSigning) (map[string]any, error) {
	sigs := map[string]string{}
	for _, kb := range sign.Sign {
		sig, err := c.p.signFor(kb.HolderKey, kb.SigningInput, sdjwt.TypeKB)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", kb.QueryID, err)
		}
		sigs[kb.QueryID] = sig
	}
	var res map[string]any
	_, err := c.call(cmd.Context(), http.MethodPost, "/bridge/v1/share-requests/consent/"+url.PathEscape(sign.ID)+"/complete",
		map[string]any{"signatures": sigs}, &res, http.StatusOK)
	return res, err
}

func citizenSyncCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Cache the text of the credentials bound to this phone's holder key, for qr --offline (GET /bridge/v1/credentials/{id})",
		Long: `sync lists the wallet's credentials and keeps, in the profile, the text of each one bound to
this phone's holder key (the bridge gives it only for those): with the key, it is all
"qr --offline" needs. Credentials no longer in the wallet, or not bound to this phone, are
dropped from the cache. It prints what is cached.`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := openCitizen(cmd)
		if err != nil {
			return err
		}
		if _, err := c.p.holderSigner(); err != nil {
			return err
		}
		var list struct {
			Credentials []wallet.Credential `json:"credentials"`
		}
		if _, err := c.call(cmd.Context(), http.MethodGet, "/bridge/v1/credentials", nil, &list, http.StatusOK); err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Second)
		cache := map[string]cachedCredential{}
		type summary struct {
			ID        string    `json:"id"`
			Type      string    `json:"type"`
			Claims    []string  `json:"claims"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		out := struct {
			Cached    []summary `json:"cached"`
			NotCached int       `json:"not_cached"`
		}{Cached: []summary{}}
		for _, meta := range list.Credentials {
			var cr wallet.Credential
			if _, err := c.call(cmd.Context(), http.MethodGet, "/bridge/v1/credentials/"+url.PathEscape(meta.ID), nil, &cr, http.StatusOK); err != nil {
				return err
			}
			if cr.Text == "" || cr.HolderKey != c.p.HolderKeyID {
				out.NotCached++
				continue
			}
			cache[cr.ID] = cachedCredential{Type: cr.Type, Issuer: cr.Issuer, Claims: cr.Claims, ExpiresAt: cr.ExpiresAt, Credential: cr.Text, SyncedAt: now}
			out.Cached = append(out.Cached, summary{ID: cr.ID, Type: cr.Type, Claims: cr.Claims, ExpiresAt: cr.ExpiresAt})
		}
		c.p.Cached = cache
		if err := c.p.save(c.file); err != nil {
			return err
		}
		return printJSON(stdout, out)
	}
	return cmd
}

// offlineQR makes the counter QR of a cached credential with the profile's holder key and no
// network: the SD-JWT with only the claims in disclose and a KB-JWT for audience (a fresh
// nonce, iat = now), in compact form unless plain. It answers as the bridge's QR does.
func offlineQR(p *citizenProfile, id string, disclose []string, audience string, plain bool, now time.Time) (map[string]any, []byte, error) {
	cr, ok := p.Cached[id]
	if !ok {
		return nil, nil, fmt.Errorf("credential %s is not cached on this phone: run `ezheng citizen sync` while online (only credentials bound to its holder key are cached)", id)
	}
	if !cr.ExpiresAt.IsZero() && !now.Before(cr.ExpiresAt) {
		return nil, nil, fmt.Errorf("credential %s expired at %s", id, cr.ExpiresAt.Format(time.RFC3339))
	}
	for _, n := range disclose {
		if !slices.Contains(cr.Claims, n) {
			return nil, nil, fmt.Errorf("credential %s has no claim %q (it has %s)", id, n, strings.Join(cr.Claims, ", "))
		}
	}
	if audience == "" {
		audience = wallet.DefaultAudience
	}
	key, err := p.holderSigner()
	if err != nil {
		return nil, nil, err
	}
	signer, err := sdjwt.NewSigner(key, sdjwt.TypeKB, "")
	if err != nil {
		return nil, nil, err
	}
	now = now.UTC().Truncate(time.Second)
	text, err := sdjwt.Present(cr.Credential, disclose, signer, audience, secret.String(12), now)
	if err != nil {
		return nil, nil, fmt.Errorf("present %s: %w", id, err)
	}
	form := "compact"
	if plain {
		form = "plain"
	} else if text, err = compactqr.Encode(text); err != nil {
		return nil, nil, err
	}
	png, version, err := qr.Encode(text)
	if err != nil {
		return nil, nil, err
	}
	return map[string]any{"qr": text, "form": form, "qr_version": version, "disclosed": disclose, "audience": audience,
		"issued_at": now, "expires_at": now.Add(offlineQRValidity), "offline": true}, png, nil
}

// writeQROutput prints a QR answer, writing its PNG to file when one is named.
func writeQROutput(stdout io.Writer, out map[string]any, png []byte, file string) error {
	if file != "" {
		if err := os.WriteFile(file, png, 0o600); err != nil {
			return err
		}
		out["png"] = file
	}
	return printJSON(stdout, out)
}
