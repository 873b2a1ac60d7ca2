package ledger

import (
	"crypto"
	"fmt"
	"time"

	"github.com/ezheng/ezheng/did/ledger/merklelog"
)

// Genesis fixes a ledger at creation: the checkpoint origin, the time of block 0 and the root
// authority's signed create operation. Its JSON form (the genesis file) is
//
//	{"create":"<JWS>","origin":"ezheng.example/ledger/city","time":"2025-01-01T00:00:00Z"}
type Genesis struct {
	Origin string    // checkpoint origin line, also the name of the node's note key
	Time   time.Time // block 0 time; kept to the millisecond
	Create string    // the root authority's create operation (JWS)
}

// NewGenesis builds a genesis whose root authority has document doc (it needs an
// assertionMethod key to accredit issuers), update key updateKey (which signs the create) and
// recovery key recoveryKey.
func NewGenesis(origin string, t time.Time, doc Document, updateKey crypto.Signer, recoveryKey crypto.PublicKey) (Genesis, error) {
	op, err := NewCreate(doc, updateKey.Public(), recoveryKey)
	if err != nil {
		return Genesis{}, err
	}
	jws, err := SignOp(op, updateKey, "")
	if err != nil {
		return Genesis{}, err
	}
	g := Genesis{Origin: origin, Time: t, Create: jws}
	return g, g.Validate()
}

// RootAuthority returns the DID the genesis create operation creates, or "" if it is not a
// valid create operation.
func (g Genesis) RootAuthority() string {
	op, err := ParseOp(g.Create)
	if err != nil || op.Op.Type != TypeCreate {
		return ""
	}
	return didOfPayload(op.Payload)
}

// Validate checks g: an origin that can name a checkpoint key, a time in milliseconds after
// 1970, and a create operation that parses, is signed by its update key and gives the root
// authority an assertionMethod key.
func (g Genesis) Validate() error {
	if g.Origin == "" {
		return fmt.Errorf("genesis: origin is empty")
	}
	if _, _, err := merklelog.KeyFromSeed(g.Origin, make([]byte, 32)); err != nil { // checks the key name
		return fmt.Errorf("genesis: origin %q cannot name a checkpoint key: %w", g.Origin, err)
	}
	if g.Time.UnixMilli() < 0 {
		return fmt.Errorf("genesis: time before 1970")
	}
	op, err := ParseOp(g.Create)
	if err != nil {
		return fmt.Errorf("genesis: create operation: %w", err)
	}
	if op.Op.Type != TypeCreate {
		return fmt.Errorf("genesis: operation is %s, want create", op.Op.Type)
	}
	if err := op.Verify(op.JWK); err != nil {
		return fmt.Errorf("genesis: create operation: %w", err)
	}
	if len(op.Op.Document.AssertionMethod) == 0 {
		return fmt.Errorf("genesis: the root authority's document has no assertionMethod key to accredit with")
	}
	return nil
}

// Encode returns the canonical JSON of g, as stored in the ledger and written to genesis files.
func (g Genesis) Encode() []byte {
	return canonicalJSON(map[string]any{
		"origin": g.Origin,
		"time":   time.UnixMilli(g.Time.UnixMilli()).UTC().Format(time.RFC3339Nano),
		"create": g.Create,
	})
}

// ParseGenesis parses a genesis file (strict JSON: exactly origin, time in RFC 3339, create)
// and validates it.
func ParseGenesis(b []byte) (Genesis, error) {
	v, err := decodeStrict(b, "genesis")
	if err != nil {
		return Genesis{}, err
	}
	o := newObject(v, "genesis")
	g := Genesis{Origin: o.str("origin", true, 256), Create: o.str("create", true, MaxOpSize)}
	ts := o.str("time", true, 64)
	if err := o.done(); err != nil {
		return Genesis{}, err
	}
	if g.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		return Genesis{}, fmt.Errorf("genesis: time: %w", err)
	}
	return g, g.Validate()
}
