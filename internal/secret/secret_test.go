package secret

import (
	"bytes"
	"strings"
	"testing"
	"time"
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

// TestSortableID: ids sort by their time, to the millisecond, and differ within one.
func TestSortableID(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	prev := ""
	for i := range 1000 {
		id := SortableID("cred", t0.Add(time.Duration(i)*time.Millisecond))
		if !strings.HasPrefix(id, "cred_") || len(id) != 5+22 {
			t.Fatalf("id %q", id)
		}
		if id <= prev {
			t.Fatalf("%q made after %q sorts before it", id, prev)
		}
		prev = id
	}
	if SortableID("x", t0) == SortableID("x", t0) {
		t.Fatal("two ids of one millisecond alike")
	}
}
