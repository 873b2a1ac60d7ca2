package verifier

import (
	"encoding/json"
	"testing"
)

// FuzzParseMessageEntry: a credentialStatus of purpose message parses into an entry whose
// statusMessage covers every value of its size, or is refused; nothing panics.
func FuzzParseMessageEntry(f *testing.F) {
	f.Add(`{"type":"BitstringStatusListEntry","statusPurpose":"message","statusListIndex":"7","statusListCredential":"https://i.test/l","statusSize":2,
		"statusMessage":[{"status":"0x0","message":"valid"},{"status":"0x1","message":"revoked"},{"status":"0x2","message":"suspended"},{"status":"0x3","message":"unassigned"}]}`)
	f.Add(`{"statusPurpose":"revocation"}`)
	f.Add(`{"statusPurpose":"message","statusSize":9}`)
	f.Fuzz(func(t *testing.T, js string) {
		var v any
		if json.Unmarshal([]byte(js), &v) != nil {
			return
		}
		e, ok, err := parseMessageEntry(v)
		if !ok || err != nil {
			return
		}
		if e.uri == "" || e.idx < 0 || e.size < 1 || e.size > 8 || len(e.messages) > 1<<e.size {
			t.Fatalf("accepted %+v", e)
		}
		for val := range e.messages {
			if val >= 1<<e.size {
				t.Fatalf("status 0x%x beyond statusSize %d", val, e.size)
			}
		}
	})
}
