package ledger

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ezheng/ezheng/internal/sqlitedb"
)

func testVerifiers(t testing.TB) note.Verifiers {
	_, v := nodeKey(t)
	return note.VerifierList(v)
}

func TestAuditClean(t *testing.T) {
	t.Parallel()
	f := goldenScenario(t)
	st := f.l.Status(f.ctx)
	f.l.Close()
	var calls uint64
	rep, err := Audit(f.ctx, f.cfg.Path, testVerifiers(t), func(done, total uint64) {
		calls++
		if done != calls || total != st.Height+1 {
			t.Errorf("progress(%d, %d) at call %d", done, total, calls)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("issues: %v", rep.Issues)
	}
	if rep.Blocks != st.Height+1 || rep.Checkpoints != st.Height+1 || rep.LogSize != st.Size {
		t.Fatalf("report %+v, status %+v", rep, st)
	}
	// An unknown checkpoint key is an issue at every height.
	_, vk, _ := note.GenerateKey(rand.Reader, testOrigin)
	other, _ := note.NewVerifier(vk)
	rep, err = Audit(f.ctx, f.cfg.Path, note.VerifierList(other), nil)
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := rep.FirstDivergence(); !ok || h != 0 || len(rep.Issues) != int(st.Height+1) {
		t.Fatalf("foreign key: first %d, %d issues", h, len(rep.Issues))
	}
	f.open() // for the fixture's cleanup
}

// tamper runs SQL on a stopped node's database directly.
func tamper(t *testing.T, path, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", sqlitedb.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%s: %d rows changed", query, n)
	}
}

func TestAuditDetectsTampering(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// do tampers with the database given the scenario's anchor result; it returns the
		// height of the first divergence the audit must report.
		do func(t *testing.T, path string, anchor Result, other string) uint64
	}{
		{"operation replaced", func(t *testing.T, path string, anchor Result, other string) uint64 {
			tamper(t, path, `UPDATE ops SET jws = ? WHERE leaf_index = ?`, other, anchor.LeafIndex)
			return anchor.Height
		}},
		{"operation byte flipped", func(t *testing.T, path string, anchor Result, _ string) uint64 {
			tamper(t, path, `UPDATE ops SET jws = substr(jws, 1, 40) || 'x' || substr(jws, 42) WHERE leaf_index = ?`, anchor.LeafIndex)
			return anchor.Height
		}},
		{"leaf hash", func(t *testing.T, path string, anchor Result, _ string) uint64 {
			tamper(t, path, `UPDATE nodes SET hash = zeroblob(32) WHERE level = 0 AND idx = ?`, anchor.LeafIndex)
			return anchor.Height
		}},
		{"internal node hash", func(t *testing.T, path string, anchor Result, _ string) uint64 {
			// Node (1, 1) covers leaves 2 and 3 and is complete once leaf 3 is appended.
			tamper(t, path, `UPDATE nodes SET hash = zeroblob(32) WHERE level = 1 AND idx = 1`)
			return leafHeight(t, path, 3)
		}},
		{"result code", func(t *testing.T, path string, anchor Result, _ string) uint64 {
			tamper(t, path, `UPDATE ops SET reason = 'x', code = 'duplicate', leaf_index = NULL WHERE leaf_index = ?`, anchor.LeafIndex)
			return anchor.Height
		}},
		{"block time", func(t *testing.T, path string, anchor Result, _ string) uint64 {
			tamper(t, path, `UPDATE blocks SET time = time + 1 WHERE height = ?`, anchor.Height)
			return anchor.Height
		}},
		{"checkpoint", func(t *testing.T, path string, anchor Result, _ string) uint64 {
			tamper(t, path, `UPDATE checkpoints SET note = CAST(replace(CAST(note AS TEXT), 'height', 'heighT') AS BLOB) WHERE height = ?`, anchor.Height)
			return anchor.Height
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			iss := f.issuer("agency")
			f.create("holder")
			anchor := f.mustOK(f.anchorOp(iss, "batch-1"))
			f.mustOK(f.anchorOp(iss, "batch-2"))
			f.create("holder 2")
			f.l.Close()
			want := tc.do(t, f.cfg.Path, anchor, f.anchorOp(iss, "batch-x"))
			rep, err := Audit(f.ctx, f.cfg.Path, testVerifiers(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := rep.FirstDivergence()
			if !ok || got != want {
				t.Fatalf("first divergence %d (found %t), want %d; issues: %v", got, ok, want, rep.Issues)
			}
			t.Logf("%d issues, first: %s", len(rep.Issues), rep.Issues[0])
			f.open()
		})
	}
	t.Run("derived state", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		a := f.create("holder")
		f.l.Close()
		tamper(t, f.cfg.Path, `UPDATE dids SET doc = CAST('{}' AS BLOB) WHERE did = ?`, a.did)
		rep, err := Audit(f.ctx, f.cfg.Path, testVerifiers(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Issues) != 1 || !strings.Contains(rep.Issues[0].What, "dids") {
			t.Fatalf("issues %v", rep.Issues)
		}
		f.open()
	})
}

func leafHeight(t *testing.T, path string, leaf uint64) uint64 {
	db, err := sql.Open("sqlite", sqlitedb.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var h uint64
	if err := db.QueryRow(`SELECT height FROM ops WHERE leaf_index = ?`, leaf).Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

const crashEnv = "EZHENG_LEDGER_CRASH_DIR"

// TestCrash runs TestCrashChild in a child process that submits operations as fast as it can
// and records each acknowledged one, kills it with SIGKILL after about a second, and checks
// that the database audits clean and holds every acknowledged operation.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acks := filepath.Join(dir, "acks")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if fi, err := os.Stat(acks); err == nil && fi.Size() > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child acknowledged nothing in 30 s:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	type ack struct {
		leaf    uint64
		version string
	}
	var acked []ack
	fh, err := os.Open(acks)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		leaf, version, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseUint(leaf, 10, 64)
		if !ok || err != nil || len(version) != 43 {
			continue // a line cut short by the kill
		}
		acked = append(acked, ack{n, version})
	}
	fh.Close()
	if len(acked) < 10 {
		t.Fatalf("only %d acknowledged operations", len(acked))
	}

	ctx := context.Background()
	rep, err := Audit(ctx, filepath.Join(dir, "ledger.sqlite"), testVerifiers(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("audit after crash: %v", rep.Issues)
	}
	g, _ := testGenesis(t)
	s, v := nodeKey(t)
	l, err := Open(ctx, Config{Path: filepath.Join(dir, "ledger.sqlite"), Genesis: g, Signer: s, Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, a := range acked {
		jws, err := l.Op(ctx, a.leaf)
		if err != nil {
			t.Fatalf("acknowledged leaf %d: %v", a.leaf, err)
		}
		if VersionID(jws) != a.version {
			t.Fatalf("leaf %d holds another operation", a.leaf)
		}
	}
	t.Logf("%d acknowledged operations present after SIGKILL; %d blocks, log size %d", len(acked), rep.Blocks, rep.LogSize)
}

// TestCrashChild is the child process of TestCrash; it does nothing otherwise.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("only run by TestCrash")
	}
	g, root := testGenesis(t)
	s, v := nodeKey(t)
	ctx := context.Background()
	l, err := Open(ctx, Config{Path: filepath.Join(dir, "ledger.sqlite"), Genesis: g, Signer: s, Verifier: v, BlockInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	iss := newActor("agency")
	if r, err := l.Submit(ctx, iss.createOp(t)); err != nil || !r.OK() {
		t.Fatal(r, err)
	}
	if r, err := l.Submit(ctx, mustSign(t, NewAccredit(iss.did, []string{"X"}, t0, t0.AddDate(100, 0, 0), 1), root.key, root.kid())); err != nil || !r.OK() {
		t.Fatal(r, err)
	}
	fh, err := os.OpenFile(filepath.Join(dir, "acks"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	stop := time.Now().Add(60 * time.Second) // the parent kills us long before
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				var jws string
				if i%2 == 0 {
					pub, _, _ := ed25519.GenerateKey(rand.Reader)
					upd, updPriv, _ := ed25519.GenerateKey(rand.Reader)
					rec, _, _ := ed25519.GenerateKey(rand.Reader)
					op, _ := NewCreate(NewDocument(pub), upd, rec)
					jws, _ = SignOp(op, updPriv, "")
				} else {
					root := make([]byte, 32)
					rand.Read(root)
					jws, _ = SignOp(NewAnchor(iss.did, root, 1000, fmt.Sprintf("w%d-%d", w, i)), iss.key, iss.kid())
				}
				r, err := l.Submit(ctx, jws)
				if err != nil || !r.OK() {
					t.Error(r, err)
					return
				}
				mu.Lock()
				fmt.Fprintf(fh, "%d %s\n", r.LeafIndex, VersionID(jws))
				fh.Sync()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
