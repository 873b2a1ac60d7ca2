package ledger

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// signRaw builds a compact JWS over exactly payload with an arbitrary header, signed with
// Ed25519 key (or left unsigned when key is nil).
func signRaw(header map[string]any, payload []byte, key ed25519.PrivateKey) string {
	h, _ := json.Marshal(header)
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(payload)
	var sig []byte
	if key != nil {
		sig = ed25519.Sign(key, []byte(input))
	}
	return input + "." + b64.EncodeToString(sig)
}

func kidHeader(kid string) map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": OpMediaType, "kid": kid}
}

// tamperSig flips bits in the middle of the signature, keeping canonical base64url.
func tamperSig(jws string) string {
	i := strings.LastIndexByte(jws, '.') + 10
	c := byte('A')
	if jws[i] == 'A' {
		c = 'B'
	}
	return jws[:i] + string(c) + jws[i+1:]
}

func manyKeys(n int) Document {
	var d Document
	for i := range n {
		k := seedKey(fmt.Sprint("many ", i))
		d.Keys = append(d.Keys, Key{ID: fmt.Sprintf("#key-%d", i+1), JWK: &jose.JSONWebKey{Key: k.Public()}})
	}
	return d
}

// TestRejections submits each kind of invalid operation and checks its result code and that
// nothing changed: the log size and every derived state table.
func TestRejections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		want Code
		// setup prepares the state and returns the operation to reject.
		setup func(f *fixture) string
	}{
		{"bad signature: anchor", CodeBadSignature, func(f *fixture) string {
			return tamperSig(f.anchorOp(f.issuer("agency"), "b1"))
		}},
		{"bad signature: create", CodeBadSignature, func(f *fixture) string {
			return tamperSig(newActor("x").createOp(f.t))
		}},
		{"bad signature: update signed by another key", CodeBadSignature, func(f *fixture) string {
			a := f.create("holder")
			return mustSign(f.t, NewUpdate(a.did, a.version, Patch{Action: ActionRemoveKeys, IDs: []string{"#key-1"}}), seedKey("mallory"), "")
		}},
		{"wrong key: anchor kid not an assertionMethod key", CodeWrongKey, func(f *fixture) string {
			iss := f.issuer("agency")
			return mustSign(f.t, NewAnchor(iss.did, make([]byte, 32), 1, "b1"), iss.key, iss.did+"#key-2")
		}},
		{"wrong key: anchor under another DID's key", CodeWrongKey, func(f *fixture) string {
			iss, other := f.issuer("agency"), f.issuer("other")
			return mustSign(f.t, NewAnchor(iss.did, make([]byte, 32), 1, "b1"), other.key, other.kid())
		}},
		{"wrong key: create whose header jwk is not its update key", CodeWrongKey, func(f *fixture) string {
			a := newActor("x")
			op := mustCreate(f.t, NewDocument(a.key.Public()), a.update.Public(), a.recovery.Public())
			return mustSign(f.t, op, a.key, "") // header jwk = key-1, payload update_key = update
		}},
		{"replay of an update", CodeStalePrev, func(f *fixture) string {
			a := f.create("holder")
			u := f.update(a, NewUpdate(a.did, a.version, Patch{Action: ActionAddServices, Services: []Service{{ID: "#s", Type: "T", Endpoint: "https://x.example"}}}))
			f.mustOK(u)
			return u
		}},
		{"out-of-order prev", CodeStalePrev, func(f *fixture) string {
			a := f.create("holder")
			u1 := f.update(a, NewUpdate(a.did, a.version, Patch{Action: ActionAddServices, Services: []Service{{ID: "#s", Type: "T", Endpoint: "https://x.example"}}}))
			return f.update(a, NewUpdate(a.did, VersionID(u1), Patch{Action: ActionRemoveServices, IDs: []string{"#s"}}))
		}},
		{"update after deactivate", CodeDeactivated, func(f *fixture) string {
			a := f.create("holder")
			d := mustSign(f.t, NewDeactivate(a.did, a.version, a.recovery.Public()), a.recovery, "")
			f.mustOK(d)
			return f.update(a, NewUpdate(a.did, VersionID(d), Patch{Action: ActionRemoveKeys, IDs: []string{"#key-1"}}))
		}},
		{"recover after deactivate", CodeDeactivated, func(f *fixture) string {
			a := f.create("holder")
			d := mustSign(f.t, NewDeactivate(a.did, a.version, a.recovery.Public()), a.recovery, "")
			f.mustOK(d)
			op, _ := NewRecover(a.did, VersionID(d), NewDocument(a.key.Public()), a.update.Public(), a.recovery.Public(), seedKey("next").Public())
			return mustSign(f.t, op, a.recovery, "")
		}},
		{"recovery signed with the update key", CodeWrongKey, func(f *fixture) string {
			a := f.create("holder")
			op, err := NewRecover(a.did, a.version, NewDocument(seedKey("new").Public()), seedKey("new upd").Public(), a.update.Public(), seedKey("next").Public())
			if err != nil {
				f.t.Fatal(err)
			}
			return mustSign(f.t, op, a.update, "")
		}},
		{"deactivation signed with the update key", CodeWrongKey, func(f *fixture) string {
			a := f.create("holder")
			return mustSign(f.t, NewDeactivate(a.did, a.version, a.update.Public()), a.update, "")
		}},
		{"next update key is the recovery key", CodeWrongKey, func(f *fixture) string {
			a := f.create("holder")
			op := NewUpdate(a.did, a.version)
			op.NextUpdateKey = &jose.JSONWebKey{Key: a.recovery.Public()}
			return f.update(a, op)
		}},
		{"accreditation not signed by the root", CodeNotRoot, func(f *fixture) string {
			iss, other := f.issuer("agency"), f.create("other")
			return mustSign(f.t, NewAccredit(other.did, []string{"X"}, t0, t0.AddDate(1, 0, 0), 99), iss.key, iss.kid())
		}},
		{"issuer accrediting itself", CodeNotRoot, func(f *fixture) string {
			a := f.create("agency")
			return mustSign(f.t, NewAccredit(a.did, []string{"X"}, t0, t0.AddDate(1, 0, 0), 1), a.key, a.kid())
		}},
		{"root accrediting itself", CodeNotRoot, func(f *fixture) string {
			return mustSign(f.t, NewAccredit(f.root.did, []string{"X"}, t0, t0.AddDate(1, 0, 0), 1), f.root.key, f.root.kid())
		}},
		{"withdrawal not signed by the root", CodeNotRoot, func(f *fixture) string {
			iss := f.issuer("agency")
			return mustSign(f.t, NewWithdraw(iss.did, []string{"DrivingLicence"}, t0, 7), iss.key, iss.kid())
		}},
		{"accreditation seq reused", CodeDuplicate, func(f *fixture) string {
			a := f.issuer("agency") // used seq 1
			return mustSign(f.t, NewAccredit(a.did, []string{"X"}, t0, t0.AddDate(1, 0, 0), 1), f.root.key, f.root.kid())
		}},
		{"accreditation of an unknown DID", CodeUnknownDID, func(f *fixture) string {
			x := newActor("x")
			x.createOp(f.t)
			return mustSign(f.t, NewAccredit(x.did, []string{"X"}, t0, t0.AddDate(1, 0, 0), 5), f.root.key, f.root.kid())
		}},
		{"oversized document", CodeTooLarge, func(f *fixture) string {
			a := newActor("big")
			op := mustCreate(f.t, manyKeys(MaxKeys), a.update.Public(), a.recovery.Public())
			op.Document.Keys = append(op.Document.Keys, Key{ID: "#key-17", JWK: &jose.JSONWebKey{Key: a.key.Public()}})
			m := map[string]any{"type": "create", "document": op.Document.encode(), "update_key": jwkMap(op.UpdateKey),
				"recovery_commitment": op.RecoveryCommitment, "nonce": op.Nonce}
			return signRaw(map[string]any{"alg": "EdDSA", "typ": OpMediaType, "jwk": jwkMap(&jose.JSONWebKey{Key: a.update.Public()})}, canonicalJSON(m), a.update)
		}},
		{"document grown over the limit by patches", CodeTooLarge, func(f *fixture) string {
			a := newActor("big")
			op := mustCreate(f.t, manyKeys(MaxKeys), a.update.Public(), a.recovery.Public())
			j := mustSign(f.t, op, a.update, "")
			f.mustOK(j)
			return mustSign(f.t, NewUpdate(DIDOf(op), VersionID(j), Patch{Action: ActionAddKeys, Keys: []Key{{ID: "#extra", JWK: &jose.JSONWebKey{Key: a.key.Public()}}}}), a.update, "")
		}},
		{"operation over 16 KiB", CodeTooLarge, func(f *fixture) string {
			return strings.Repeat("A", MaxOpSize+1)
		}},
		{"malformed DID", CodeMalformed, func(f *fixture) string {
			a := f.create("holder")
			payload := canonicalJSON(map[string]any{"type": "update", "did": "did:ez:notavalidsuffix", "prev": a.version,
				"next_update_key": jwkMap(&jose.JSONWebKey{Key: seedKey("n").Public()})})
			return signRaw(kidHeader("did:ez:notavalidsuffix#update"), payload, a.update)
		}},
		{"update of an unknown DID", CodeUnknownDID, func(f *fixture) string {
			a := newActor("ghost")
			a.createOp(f.t)
			return f.update(a, NewUpdate(a.did, a.version, Patch{Action: ActionRemoveKeys, IDs: []string{"#key-1"}}))
		}},
		{"duplicate anchor batch", CodeDuplicate, func(f *fixture) string {
			iss := f.issuer("agency")
			f.mustOK(f.anchorOp(iss, "b1"))
			root := sha256.Sum256([]byte("another root"))
			return mustSign(f.t, NewAnchor(iss.did, root[:], 3, "b1"), iss.key, iss.kid())
		}},
		{"duplicate create", CodeDuplicate, func(f *fixture) string {
			a := f.create("holder")
			return a.createOp(f.t)
		}},
		{"anchor by an unaccredited issuer", CodeNotAccredited, func(f *fixture) string {
			return f.anchorOp(f.create("agency"), "b1")
		}},
		{"anchor after the accreditation was withdrawn", CodeNotAccredited, func(f *fixture) string {
			iss := f.issuer("agency")
			f.mustOK(mustSign(f.t, NewWithdraw(iss.did, []string{"DrivingLicence"}, t0, 50), f.root.key, f.root.kid()))
			return f.anchorOp(iss, "b1")
		}},
		{"status seq going back", CodeStalePrev, func(f *fixture) string {
			iss := f.issuer("agency")
			d := sha256.Sum256([]byte("v"))
			f.mustOK(mustSign(f.t, NewStatus(iss.did, "list-1", d[:], 5), iss.key, iss.kid()))
			return mustSign(f.t, NewStatus(iss.did, "list-1", d[:], 4), iss.key, iss.kid())
		}},
		{"status seq replayed", CodeDuplicate, func(f *fixture) string {
			iss := f.issuer("agency")
			d := sha256.Sum256([]byte("v"))
			s := mustSign(f.t, NewStatus(iss.did, "list-1", d[:], 5), iss.key, iss.kid())
			f.mustOK(s)
			return s
		}},
		{"status list of another issuer", CodeWrongKey, func(f *fixture) string {
			iss, other := f.issuer("agency"), f.issuer("other")
			d := sha256.Sum256([]byte("v"))
			f.mustOK(mustSign(f.t, NewStatus(iss.did, "list-1", d[:], 1), iss.key, iss.kid()))
			return mustSign(f.t, NewStatus(other.did, "list-1", d[:], 2), other.key, other.kid())
		}},
		{"patch removing a missing key", CodeInvalidDocument, func(f *fixture) string {
			a := f.create("holder")
			return f.update(a, NewUpdate(a.did, a.version, Patch{Action: ActionRemoveKeys, IDs: []string{"#nope"}}))
		}},
		{"document naming a missing key", CodeInvalidDocument, func(f *fixture) string {
			a := newActor("x")
			doc := NewDocument(a.key.Public())
			doc.AssertionMethod = []string{"#key-9"}
			m := map[string]any{"type": "create", "document": doc.encode(), "update_key": jwkMap(&jose.JSONWebKey{Key: a.update.Public()}),
				"recovery_commitment": b64.EncodeToString(make([]byte, 32)), "nonce": fixedNonce("x")}
			return signRaw(map[string]any{"alg": "EdDSA", "typ": OpMediaType, "jwk": jwkMap(&jose.JSONWebKey{Key: a.update.Public()})}, canonicalJSON(m), a.update)
		}},
		{"non-canonical payload: white space", CodeNonCanonical, func(f *fixture) string {
			iss := f.issuer("agency")
			m, _ := NewAnchor(iss.did, make([]byte, 32), 1, "b1").members()
			pretty, _ := json.MarshalIndent(m, "", " ")
			return signRaw(kidHeader(iss.kid()), pretty, iss.key)
		}},
		{"non-canonical payload: member order", CodeNonCanonical, func(f *fixture) string {
			iss := f.issuer("agency")
			p := fmt.Sprintf(`{"type":"anchor","issuer":%q,"root":%q,"count":1,"batch":"b1"}`, iss.did, b64.EncodeToString(make([]byte, 32)))
			return signRaw(kidHeader(iss.kid()), []byte(p), iss.key)
		}},
		{"non-canonical payload: escaped character", CodeNonCanonical, func(f *fixture) string {
			iss := f.issuer("agency")
			p := fmt.Sprintf(`{"batch":"b\u0031","count":1,"issuer":%q,"root":%q,"type":"anchor"}`, iss.did, b64.EncodeToString(make([]byte, 32)))
			return signRaw(kidHeader(iss.kid()), []byte(p), iss.key)
		}},
		{"float count", CodeMalformed, func(f *fixture) string {
			iss := f.issuer("agency")
			p := fmt.Sprintf(`{"batch":"b1","count":1.0,"issuer":%q,"root":%q,"type":"anchor"}`, iss.did, b64.EncodeToString(make([]byte, 32)))
			return signRaw(kidHeader(iss.kid()), []byte(p), iss.key)
		}},
		{"duplicate member", CodeMalformed, func(f *fixture) string {
			iss := f.issuer("agency")
			p := fmt.Sprintf(`{"batch":"b1","batch":"b2","count":1,"issuer":%q,"root":%q,"type":"anchor"}`, iss.did, b64.EncodeToString(make([]byte, 32)))
			return signRaw(kidHeader(iss.kid()), []byte(p), iss.key)
		}},
		{"unknown member", CodeMalformed, func(f *fixture) string {
			iss := f.issuer("agency")
			m, _ := NewAnchor(iss.did, make([]byte, 32), 1, "b1").members()
			m["extra"] = "x"
			return signRaw(kidHeader(iss.kid()), canonicalJSON(m), iss.key)
		}},
		{"alg none", CodeBadSignature, func(f *fixture) string {
			iss := f.issuer("agency")
			m, _ := NewAnchor(iss.did, make([]byte, 32), 1, "b1").members()
			return signRaw(map[string]any{"alg": "none", "typ": OpMediaType, "kid": iss.kid()}, canonicalJSON(m), nil)
		}},
		{"alg HS256", CodeBadSignature, func(f *fixture) string {
			iss := f.issuer("agency")
			m, _ := NewAnchor(iss.did, make([]byte, 32), 1, "b1").members()
			h, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": OpMediaType, "kid": iss.kid()})
			input := b64.EncodeToString(h) + "." + b64.EncodeToString(canonicalJSON(m))
			mac := hmac.New(sha256.New, []byte(iss.kid()))
			mac.Write([]byte(input))
			return input + "." + b64.EncodeToString(mac.Sum(nil))
		}},
		{"ES256 high-S signature", CodeBadSignature, func(f *fixture) string {
			ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			rec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			op := mustCreate(f.t, NewDocument(ec.Public()), ec.Public(), rec.Public())
			jws := mustSign(f.t, op, ec, "")
			i := strings.LastIndexByte(jws, '.')
			sig, _ := decodeB64(jws[i+1:])
			s := new(big.Int).SetBytes(sig[32:])
			s.Sub(elliptic.P256().Params().N, s) // the other, high, S: still a valid ECDSA signature
			s.FillBytes(sig[32:])
			return jws[:i+1] + b64.EncodeToString(sig)
		}},
		{"wrong typ", CodeMalformed, func(f *fixture) string {
			iss := f.issuer("agency")
			m, _ := NewAnchor(iss.did, make([]byte, 32), 1, "b1").members()
			return signRaw(map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": iss.kid()}, canonicalJSON(m), iss.key)
		}},
		{"critical header", CodeMalformed, func(f *fixture) string {
			iss := f.issuer("agency")
			m, _ := NewAnchor(iss.did, make([]byte, 32), 1, "b1").members()
			return signRaw(map[string]any{"alg": "EdDSA", "typ": OpMediaType, "kid": iss.kid(), "crit": []string{"x"}, "x": 1}, canonicalJSON(m), iss.key)
		}},
		{"create with the recovery key as update key", CodeWrongKey, func(f *fixture) string {
			a := newActor("x")
			rc, _ := RecoveryCommitment(&jose.JSONWebKey{Key: a.update.Public()})
			m := map[string]any{"type": "create", "document": NewDocument(a.key.Public()).encode(), "update_key": jwkMap(&jose.JSONWebKey{Key: a.update.Public()}),
				"recovery_commitment": rc, "nonce": fixedNonce("x")}
			return signRaw(map[string]any{"alg": "EdDSA", "typ": OpMediaType, "jwk": jwkMap(&jose.JSONWebKey{Key: a.update.Public()})}, canonicalJSON(m), a.update)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			jws := tc.setup(f)
			before, size := f.stateDigests(), f.l.Status(f.ctx).Size
			res := f.submit(jws)
			if res.Code != tc.want {
				t.Fatalf("code = %s (%s), want %s", res.Code, res.Reason, tc.want)
			}
			if res.Reason == "" {
				t.Error("no reason given")
			}
			after := f.l.Status(f.ctx).Size
			if after != size {
				t.Errorf("log grew from %d to %d", size, after)
			}
			for table, d := range f.stateDigests() {
				if before[table] != d {
					t.Errorf("table %s changed", table)
				}
			}
		})
	}
}
