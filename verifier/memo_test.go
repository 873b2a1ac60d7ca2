package verifier

import "testing"

// TestMemo: values come back until cleared; a full memo starts over instead of growing.
func TestMemo(t *testing.T) {
	var m memo[int, string]
	if _, ok := m.get(1); ok {
		t.Fatal("empty memo answered")
	}
	m.put(1, "a")
	if v, ok := m.get(1); !ok || v != "a" {
		t.Fatalf("get = %q, %v", v, ok)
	}
	for i := range memoMax {
		m.put(i+2, "x")
	}
	if _, ok := m.get(1); ok || len(m.m) > memoMax {
		t.Fatalf("a full memo kept growing: %d entries", len(m.m))
	}
	m.clear()
	if _, ok := m.get(2); ok {
		t.Fatal("cleared memo answered")
	}
}
