package dpop_test

import (
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/good.txt")

func TestWriteSeed(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/good.txt")
	}
	p := proof(t, p256(t), "POST", target, token, "", t0, "seed-file")
	if err := os.WriteFile("testdata/good.txt", []byte(p+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
