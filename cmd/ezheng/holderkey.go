package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spf13/cobra"

	"github.com/ezheng/ezheng/internal/demo"
	"github.com/ezheng/ezheng/internal/dpop"
	"github.com/ezheng/ezheng/wallet"
)

// demoHolderProofCmd prints the proof with which a phone registers a holder key it keeps
// (POST /bridge/v1/holder-keys), standing in for the app: the key lives in a file here.
func demoHolderProofCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "holder-proof --key FILE URL",
		Short: "Print a holder key registration proof (holder-key+jwt) for POST /bridge/v1/holder-keys, signed with the holder key in FILE",
		Long: `Print the proof a phone sends to register a holder key it keeps on the device
(POST /bridge/v1/holder-keys {"proof": ...}). URL is the endpoint's public URL (the proof's
aud). The holder key is the private JWK in --key, made (P-256, mode 0600) if the file does
not exist; it must not be the phone's DPoP device key. The proof's nonce is the thumbprint of
the device key: the demo citizen's phone, or the one in --device-key.`,
		Args: cobra.ExactArgs(1),
	}
	addSettings(cmd.Flags(), getenv, "data")
	cmd.Flags().String("key", "", "holder key file (private JWK); created if missing")
	cmd.Flags().String("device-key", "", "device (DPoP) key file of the phone; default: the demo citizen's")
	cmd.MarkFlagRequired("key")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		fs := cmd.Flags()
		keyFile, _ := fs.GetString("key")
		key, err := loadOrMakeDeviceKey(keyFile)
		if err != nil {
			return err
		}
		var device crypto.Signer
		if f, _ := fs.GetString("device-key"); f != "" {
			device, err = loadOrMakeDeviceKey(f)
		} else {
			var w *demo.World
			if w, err = demo.Load(filepath.Join(getString(fs, "data"), demo.FileName)); err != nil {
				return fmt.Errorf("read the demo world: %w", err)
			}
			device, err = w.Citizen.DeviceSigner()
		}
		if err != nil {
			return err
		}
		out, err := holderKeyProof(key, device, args[0], time.Now())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, out)
		return err
	}
	return cmd
}

// holderKeyProof is the proof with which a phone registers the holder key key
// (POST /bridge/v1/holder-keys, whose public URL is aud): a holder-key+jwt signed by key with
// its public JWK in the header, the nonce the thumbprint of the phone's DPoP device key.
func holderKeyProof(key, device crypto.Signer, aud string, now time.Time) (string, error) {
	jkt, err := dpop.Thumbprint(jose.JSONWebKey{Key: device.Public()})
	if err != nil {
		return "", err
	}
	alg := jose.ES256
	if _, ok := key.(ed25519.PrivateKey); ok {
		alg = jose.EdDSA
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{EmbedJWK: true}).WithType(wallet.HolderKeyProofType))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(map[string]any{"aud": aud, "iat": now.Unix(), "nonce": jkt})
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// demoSignCmd signs a JWS signing input the bridge hands the app (a KB-JWT or an OpenID4VCI
// proof) with the holder key in a file, printing the signature as the app posts it.
func demoSignCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sign --key FILE SIGNING_INPUT",
		Short: "Sign a signing_input from the bridge with the holder key in FILE, as the phone app does (prints base64url of the 64-byte JWS signature)",
		Args:  cobra.ExactArgs(1),
	}
	cmd.Flags().String("key", "", "holder key file (private JWK)")
	cmd.MarkFlagRequired("key")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		keyFile, _ := cmd.Flags().GetString("key")
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return err
		}
		key, err := demo.Citizen{DeviceKey: b}.DeviceSigner()
		if err != nil {
			return err
		}
		sig, err := signJWSInput(key, strings.TrimSpace(args[0]))
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, sig)
		return err
	}
	return cmd
}

// signJWSInput returns base64url of the JWS signature of input: ES256 as R||S (RFC 7518
// section 3.4), EdDSA as the Ed25519 signature.
func signJWSInput(key crypto.Signer, input string) (string, error) {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		return base64.RawURLEncoding.EncodeToString(ed25519.Sign(k, []byte(input))), nil
	case *ecdsa.PrivateKey:
		sum := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			return "", err
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return base64.RawURLEncoding.EncodeToString(sig), nil
	}
	return "", fmt.Errorf("unsupported holder key %T", key)
}
