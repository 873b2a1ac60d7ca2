package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ezheng/ezheng/internal/dpop"
	"github.com/ezheng/ezheng/wallet"
)

// TestDemoHolderKeyHelpers: holder-proof makes a key file and a registration proof the wallet
// accepts for that phone; sign signs a signing input so that the JWS verifies with the key.
func TestDemoHolderKeyHelpers(t *testing.T) {
	dir := t.TempDir()
	holderFile, deviceFile := filepath.Join(dir, "holder.jwk"), filepath.Join(dir, "phone.jwk")
	device, err := loadOrMakeDeviceKey(deviceFile)
	if err != nil {
		t.Fatal(err)
	}
	jkt, _ := dpop.Thumbprint(jose.JSONWebKey{Key: device.Public()})
	const aud = "http://127.0.0.1:8080/bridge/v1/holder-keys"
	var out bytes.Buffer
	if err := run(context.Background(), []string{"demo", "holder-proof", "--key", holderFile, "--device-key", deviceFile, aud}, &out, io.Discard, testEnv(nil)); err != nil {
		t.Fatal(err)
	}
	key, err := wallet.ParseHolderKeyProof(strings.TrimSpace(out.String()), wallet.HolderKeyProofOptions{Audience: aud, Nonce: jkt, Now: time.Now()})
	if err != nil {
		t.Fatalf("proof refused: %v", err)
	}

	input := "eyJhbGciOiJFUzI1NiIsInR5cCI6ImtiK2p3dCJ9.eyJhdWQiOiJjb3VudGVyIn0"
	out.Reset()
	if err := run(context.Background(), []string{"demo", "sign", "--key", holderFile, input}, &out, io.Discard, testEnv(nil)); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(input+"."+strings.TrimSpace(out.String()), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify(key); err != nil {
		t.Errorf("signature does not verify with the registered key: %v", err)
	}
	if err := run(context.Background(), []string{"demo", "sign", "--key", filepath.Join(dir, "missing.jwk"), input}, io.Discard, io.Discard, testEnv(nil)); err == nil {
		t.Error("signing with a missing key file succeeded")
	}
}
