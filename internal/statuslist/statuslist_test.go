package statuslist

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestNewRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		size, bits int
	}{
		{"zero size", 0, 1},
		{"negative size", -1, 2},
		{"bits 0", 8, 0},
		{"bits 3", 8, 3},
		{"bits 16", 8, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.size, tc.bits); !errors.Is(err, ErrMalformed) {
				t.Errorf("New(%d, %d) error = %v, want ErrMalformed", tc.size, tc.bits, err)
			}
		})
	}
}

func TestGetSetRoundTrip(t *testing.T) {
	t.Parallel()
	for _, bits := range []int{1, 2, 4, 8} {
		for _, size := range []int{1, 7, 8, 9, 100, 1001} {
			t.Run(fmt.Sprintf("bits=%d/size=%d", bits, size), func(t *testing.T) {
				t.Parallel()
				l, err := New(size, bits)
				if err != nil {
					t.Fatal(err)
				}
				if l.Size() != size || l.Bits() != bits {
					t.Fatalf("Size, Bits = %d, %d, want %d, %d", l.Size(), l.Bits(), size, bits)
				}
				if got, want := len(l.Bytes()), (size*bits+7)/8; got != want {
					t.Fatalf("len(Bytes()) = %d, want %d", got, want)
				}
				max := uint8(1<<bits - 1)
				want := make([]uint8, size)
				for i := range want {
					want[i] = uint8((i*7 + 3) % (int(max) + 1))
					if err := l.Set(i, want[i]); err != nil {
						t.Fatalf("Set(%d, %d): %v", i, want[i], err)
					}
				}
				// Overwrite a few entries to check that Set clears the old bits.
				for i := 0; i < size; i += 3 {
					want[i] = max - want[i]
					if err := l.Set(i, want[i]); err != nil {
						t.Fatal(err)
					}
				}
				check := func(l *List) {
					t.Helper()
					for i, w := range want {
						if got, err := l.Get(i); err != nil || got != w {
							t.Fatalf("Get(%d) = %d, %v, want %d", i, got, err, w)
						}
					}
				}
				check(l)
				m, err := l.Encode()
				if err != nil {
					t.Fatal(err)
				}
				back, err := Decode(jsonRoundTrip(t, m), size)
				if err != nil {
					t.Fatalf("Decode(Encode()): %v", err)
				}
				if back.Bits() != bits || back.Size() < size || back.Size() >= size+8/bits {
					t.Fatalf("decoded Bits, Size = %d, %d for %d, %d", back.Bits(), back.Size(), bits, size)
				}
				check(back)
				if err := l.Set(0, max+1); max < 255 && !errors.Is(err, ErrValue) {
					t.Errorf("Set(0, %d) error = %v, want ErrValue", max+1, err)
				}
				for _, i := range []int{-1, size} {
					if _, err := l.Get(i); !errors.Is(err, ErrIndex) {
						t.Errorf("Get(%d) error = %v, want ErrIndex", i, err)
					}
					if err := l.Set(i, 0); !errors.Is(err, ErrIndex) {
						t.Errorf("Set(%d) error = %v, want ErrIndex", i, err)
					}
				}
			})
		}
	}
}

// jsonRoundTrip marshals m and decodes it back the way a verifier would, with numbers as
// json.Number.
func jsonRoundTrip(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeObject(b, "test")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type ietfVector struct {
	Name     string  `json:"name"`
	Bits     int     `json:"bits"`
	Bytes    string  `json:"bytes"`
	Lst      string  `json:"lst"`
	Statuses []uint8 `json:"statuses"`
}

func loadIETFVectors(t testing.TB) []ietfVector {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ietf-status-list-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs []ietfVector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestIETFVectors checks the examples of draft-ietf-oauth-status-list: the statuses give the
// byte array (index 0 in the least significant bits of byte 0), and the spec's lst decodes to it.
func TestIETFVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadIETFVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			want, err := hex.DecodeString(v.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			l, err := New(len(v.Statuses), v.Bits)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range v.Statuses {
				if err := l.Set(i, s); err != nil {
					t.Fatal(err)
				}
			}
			if got := l.Bytes(); !bytes.Equal(got, want) {
				t.Errorf("byte array = %x, want %x", got, want)
			}

			dec, err := Decode(map[string]any{"bits": float64(v.Bits), "lst": v.Lst}, 1<<20)
			if err != nil {
				t.Fatalf("Decode(spec lst): %v", err)
			}
			if got := dec.Bytes(); !bytes.Equal(got, want) {
				t.Errorf("Decode(spec lst) bytes = %x, want %x", got, want)
			}
			for i, s := range v.Statuses {
				if got, _ := dec.Get(i); got != s {
					t.Errorf("status[%d] = %d, want %d", i, got, s)
				}
			}
			// Go's DEFLATE is not zlib's, so our lst need not equal the spec's byte for byte;
			// it must decode to the same array.
			m, err := l.Encode()
			if err != nil {
				t.Fatal(err)
			}
			again, err := Decode(m, 1<<20)
			if err != nil || !bytes.Equal(again.Bytes(), want) {
				t.Errorf("Decode(Encode()) = %x, %v, want %x", again.Bytes(), err, want)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	good := "eNrbuRgAAhcBXQ" // the draft's 1-bit example
	compress := func(b []byte, extra ...byte) string {
		var buf bytes.Buffer
		zw := zlib.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return b64.EncodeToString(append(buf.Bytes(), extra...))
	}
	raw, _ := decodeB64(good)
	corrupt := bytes.Clone(raw)
	corrupt[len(corrupt)-1] ^= 1 // breaks the Adler-32 checksum
	for _, tc := range []struct {
		name    string
		m       map[string]any
		maxSize int
		want    error
	}{
		{"bits missing", map[string]any{"lst": good}, 100, ErrMalformed},
		{"bits 3", map[string]any{"bits": 3, "lst": good}, 100, ErrMalformed},
		{"bits string", map[string]any{"bits": "1", "lst": good}, 100, ErrMalformed},
		{"bits fractional", map[string]any{"bits": 1.5, "lst": good}, 100, ErrMalformed},
		{"bits json.Number fraction", map[string]any{"bits": json.Number("1.0"), "lst": good}, 100, ErrMalformed},
		{"lst missing", map[string]any{"bits": 1}, 100, ErrMalformed},
		{"lst number", map[string]any{"bits": 1, "lst": 5}, 100, ErrMalformed},
		{"unknown member", map[string]any{"bits": 1, "lst": good, "size": 16}, 100, ErrMalformed},
		{"aggregation_uri number", map[string]any{"bits": 1, "lst": good, "aggregation_uri": 1}, 100, ErrMalformed},
		{"padding", map[string]any{"bits": 1, "lst": good + "=="}, 100, ErrMalformed},
		{"standard alphabet", map[string]any{"bits": 1, "lst": "eNo76fITAAPfAgc+"}, 100, ErrMalformed},
		{"line break", map[string]any{"bits": 1, "lst": good[:4] + "\n" + good[4:]}, 100, ErrMalformed},
		{"space", map[string]any{"bits": 1, "lst": " " + good}, 100, ErrMalformed},
		{"non-zero trailing bits", map[string]any{"bits": 1, "lst": good[:len(good)-1] + "R"}, 100, ErrMalformed},
		{"not zlib", map[string]any{"bits": 1, "lst": "AAAA"}, 100, ErrMalformed},
		{"bad checksum", map[string]any{"bits": 1, "lst": b64.EncodeToString(corrupt)}, 100, ErrMalformed},
		{"truncated", map[string]any{"bits": 1, "lst": b64.EncodeToString(raw[:len(raw)-2])}, 100, ErrMalformed},
		{"trailing garbage", map[string]any{"bits": 1, "lst": compress([]byte{1}, 0)}, 100, ErrMalformed},
		{"empty list", map[string]any{"bits": 1, "lst": compress(nil)}, 100, ErrMalformed},
		{"over limit", map[string]any{"bits": 1, "lst": good}, 8, ErrTooLarge},
		{"over limit 8 bits", map[string]any{"bits": 8, "lst": good}, 1, ErrTooLarge},
		{"zero limit", map[string]any{"bits": 1, "lst": good}, 0, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Decode(tc.m, tc.maxSize)
			t.Log(err)
			if !errors.Is(err, tc.want) {
				t.Errorf("Decode() = %v, %v, want %v", l, err, tc.want)
			}
		})
	}
}

func TestDecodeAcceptsNumberForms(t *testing.T) {
	t.Parallel()
	for _, bits := range []any{1, int64(1), float64(1), json.Number("1")} {
		if _, err := Decode(map[string]any{"bits": bits, "lst": "eNrbuRgAAhcBXQ"}, 16); err != nil {
			t.Errorf("bits %T: %v", bits, err)
		}
	}
}

func TestAggregationURI(t *testing.T) {
	t.Parallel()
	l, _ := New(8, 1)
	l.SetAggregationURI("https://example.com/statuslists")
	m, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(jsonRoundTrip(t, m), 8)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.AggregationURI(); got != "https://example.com/statuslists" {
		t.Errorf("AggregationURI() = %q", got)
	}
}

// zlibBomb returns lst of a zlib stream that inflates to n zero bytes, built without holding
// them in memory.
func zlibBomb(t testing.TB, n int) string {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	chunk := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(chunk))
		zw.Write(chunk[:k])
		n -= k
	}
	zw.Close()
	return b64.EncodeToString(buf.Bytes())
}

// TestZipBomb feeds a ~130 KB lst that inflates to 100 MB: Decode must refuse it with ErrTooLarge
// after inflating no more than its limit.
func TestZipBomb(t *testing.T) {
	lst := zlibBomb(t, 100<<20)
	if len(lst) > 200<<10 {
		t.Fatalf("bomb is %d bytes, expected a small one", len(lst))
	}
	const maxSize = 1 << 20 // 1M entries of 8 bits: at most 1 MiB inflated
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Decode(map[string]any{"bits": 8, "lst": lst}, maxSize)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Decode(bomb) error = %v, want ErrTooLarge", err)
	}
	// io.ReadAll grows its buffer geometrically, and the base64 and flate state cost a little:
	// allow 16 MiB, far below the 100 MiB a naive decoder would allocate.
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Errorf("Decode(bomb) allocated %d bytes, want at most 16 MiB", got)
	}
}

func TestDigest(t *testing.T) {
	t.Parallel()
	// SHA-256("abc"), FIPS 180-2 appendix B.1.
	want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := hex.EncodeToString(Digest([]byte("abc"))); got != want {
		t.Errorf("Digest(abc) = %s, want %s", got, want)
	}
}
