package secret

import (
	"bytes"
	"strings"
	"testing"
)

func TestToken(t *testing.T) {
	tok, h := Token("ezt")
	if !strings.HasPrefix(tok, "ezt_") || len(tok) != 4+43 {
		t.Fatalf("token %q", tok)
	}
	if !bytes.Equal(Hash(tok), h) || bytes.Equal(Hash(tok+"x"), h) {
		t.Fatal("hash does not identify the token")
	}
	if tok2, _ := Token("ezt"); tok2 == tok {
		t.Fatal("two tokens alike")
	}
	if Hash("") != nil || Hash(strings.Repeat("a", MaxTokenLen+1)) != nil {
		t.Fatal("Hash accepted impossible tokens")
	}
	if id := ID("cred"); !strings.HasPrefix(id, "cred_") || len(id) != 5+22 {
		t.Fatalf("id %q", id)
	}
}
