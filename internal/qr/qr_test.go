package qr_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ezheng/ezheng/internal/qr"
)

// base45Alphabet is the QR alphanumeric set, which base45 (RFC 9285) uses.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// text returns n deterministic pseudo-random characters of alphabet.
func text(n int, alphabet string, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, seed))
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

const lowerPrintable = "abcdefghijklmnopqrstuvwxyz0123456789-_.~!#&'()=?{}[]<>"

var roundTrips = []struct {
	name string
	text string
}{
	{"short", "openid4vp://?client_id=x509_san_dns:counter.example.gov.cn&request_uri=https://v.example/r/42"},
	{"single character", "a"},
	{"Chinese", "电子证照 驾驶证 C1 有效"},
	{"1500 bytes", text(1500, lowerPrintable, 1)},
	{"base45 alphanumeric", "HC1:" + text(2000, base45Alphabet, 2)},
	{"digits", text(300, "0123456789", 3)},
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tt := range roundTrips {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, version, err := qr.Encode(tt.text)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			want, err := qr.Version(tt.text)
			if err != nil || want != version {
				t.Errorf("Version = %d, %v; Encode used %d", want, err, version)
			}
			got, err := qr.Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got != tt.text {
				t.Errorf("Decode = %q, want %q", got, tt.text)
			}
			checkGeometry(t, b, version)
		})
	}
}

// TestRoundTripMany round-trips SD-JWT-like payloads of every size, alone and inside a
// larger "screenshot", because gozxing's detector fails on some specific codes (see Decode).
func TestRoundTripMany(t *testing.T) {
	t.Parallel()
	const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
	for n := 100; n <= 2300; n += 100 {
		for seed := range uint64(3) {
			s := text(n, b64url, seed*7919+uint64(n))
			b, _, err := qr.Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := qr.Decode(b); err != nil || got != s {
				t.Errorf("%d bytes, seed %d: Decode = %d bytes, %v", n, seed, len(got), err)
			}
			if got, err := qr.Decode(screenshot(t, b)); err != nil || got != s {
				t.Errorf("%d bytes, seed %d, in a screenshot: Decode = %d bytes, %v", n, seed, len(got), err)
			}
		}
	}
}

// screenshot places the code of PNG b below a dark title bar on a larger white page.
func screenshot(t *testing.T, b []byte) []byte {
	t.Helper()
	code, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	r := code.Bounds()
	page := image.NewGray(image.Rect(0, 0, r.Dx()+300, r.Dy()+500))
	draw.Draw(page, page.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(page, image.Rect(0, 0, page.Bounds().Dx(), 60), image.Black, image.Point{}, draw.Src)
	draw.Draw(page, r.Add(image.Pt(150, 200)), code, image.Point{}, draw.Src)
	return encodePNG(t, page)
}

// checkGeometry checks that the PNG holds a symbol of the given version plus the quiet
// zone, with every module a whole number of pixels, at least 4.
func checkGeometry(t *testing.T, b []byte, version int) {
	t.Helper()
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	modules := 4*version + 17 + 2*4
	if cfg.Width != cfg.Height || cfg.Width%modules != 0 || cfg.Width/modules < 4 {
		t.Errorf("image %dx%d for version %d (%d modules with quiet zone): want a square of >= 4 px per module",
			cfg.Width, cfg.Height, version, modules)
	}
	// The quiet zone is white: the whole first row of pixels and the corner module area.
	m, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	px := cfg.Width / modules
	for y := 0; y < 4*px; y++ {
		for x := 0; x < cfg.Width; x++ {
			if r, _, _, _ := m.At(x, y).RGBA(); r != 0xffff {
				t.Fatalf("pixel (%d,%d) in the quiet zone is not white", x, y)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want int
	}{
		// Capacities at level M from ISO/IEC 18004 table 7.
		{"version 1 bytes", strings.Repeat("a", 14), 1},
		{"version 2 bytes", strings.Repeat("a", 15), 2},
		{"version 1 alphanumeric", strings.Repeat("A", 20), 1},
		{"version 2 alphanumeric", strings.Repeat("A", 21), 2},
		{"version 1 numeric", strings.Repeat("7", 34), 1},
		{"version 40 bytes", strings.Repeat("a", 2331), 40},
		{"version 40 alphanumeric", strings.Repeat("A", 3391), 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := qr.Version(tt.text)
			if err != nil || got != tt.want {
				t.Errorf("Version = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
	// The same length needs a smaller symbol in alphanumeric mode than in byte mode.
	alnum, _ := qr.Version(text(1000, base45Alphabet, 4))
	bytesV, _ := qr.Version(text(1000, lowerPrintable, 4))
	if alnum >= bytesV {
		t.Errorf("1000 alphanumeric characters need version %d, 1000 bytes %d: alphanumeric mode not used", alnum, bytesV)
	}
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want error
	}{
		{"empty", "", qr.ErrEmpty},
		{"one byte too many", strings.Repeat("a", 2332), qr.ErrTooLong},
		{"one alphanumeric too many", strings.Repeat("A", 3392), qr.ErrTooLong},
		{"far too long", strings.Repeat("a", 10000), qr.ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := qr.Encode(tt.text); !errors.Is(err, tt.want) {
				t.Errorf("Encode = %v, want %v", err, tt.want)
			}
			if _, err := qr.Version(tt.text); !errors.Is(err, tt.want) {
				t.Errorf("Version = %v, want %v", err, tt.want)
			}
		})
	}
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeJPEGPhoto(t *testing.T) {
	t.Parallel()
	want := "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fissuer.example%2Fo%2F7"
	b, _, err := qr.Encode(want)
	if err != nil {
		t.Fatal(err)
	}
	code, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// The code off-centre on a grey background, saved as a lossy JPEG.
	canvas := image.NewRGBA(image.Rect(0, 0, 900, 700))
	draw.Draw(canvas, canvas.Bounds(), &image.Uniform{color.Gray{Y: 200}}, image.Point{}, draw.Src)
	draw.Draw(canvas, code.Bounds().Add(image.Pt(420, 250)), code, image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, canvas, &jpeg.Options{Quality: 70}); err != nil {
		t.Fatal(err)
	}
	got, err := qr.Decode(buf.Bytes())
	if err != nil || got != want {
		t.Errorf("Decode = %q, %v; want %q", got, err, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	blank := image.NewGray(image.Rect(0, 0, 300, 300))
	draw.Draw(blank, blank.Bounds(), image.White, image.Point{}, draw.Src)
	tooWide := image.NewGray(image.Rect(0, 0, qr.MaxImageSide+1, 1))
	valid, _, err := qr.Encode("x")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		img  []byte
		want error
	}{
		{"empty", nil, qr.ErrImage},
		{"garbage", []byte("this is not an image at all"), qr.ErrImage},
		{"GIF", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), qr.ErrImage},
		{"truncated PNG", valid[:len(valid)/2], qr.ErrImage},
		{"PNG magic only", []byte("\x89PNG\r\n\x1a\n"), qr.ErrImage},
		{"JPEG magic only", []byte{0xff, 0xd8, 0xff, 0xe0}, qr.ErrImage},
		{"too many bytes", append(append([]byte{}, valid...), make([]byte, qr.MaxImageBytes)...), qr.ErrImage},
		{"too wide", encodePNG(t, tooWide), qr.ErrImage},
		{"blank PNG", encodePNG(t, blank), qr.ErrNoCode},
		{"tiny PNG", encodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1))), qr.ErrNoCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := qr.Decode(tt.img)
			if !errors.Is(err, tt.want) {
				t.Errorf("Decode = %q, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"a", "HC1:6BF+70790T9WJWG.FKY*4GO0.O1CV2 O5 N2FBBRW1*70HS8WY04AC*WIFN0AHCD8KD97TK0F90KECTHGWJC0FDC:5AIA%G7X+AQB9746HS80:54IBQF60R6$A80X6S1BTYACG6M+9XG8KIAWNA91AY%67092L4WJCT3EHS8XJC$+DXJCCWENF6OF63W5NW6WF6%JC QE/IAYJC5LEW34U3ET7DXC9 QE-ED8%E.JCBECB1A-:8$96646AL60A60S6Q$D.UDRYA 96NF6L/5QW6307KQEPD09WEQDD+Q6TW6FA7C466KCN9E%961A6DL6FA7D46JPCT3E5JDLA7$Q6E464W5TG6..DX%DZJC6/DTZ9 QE5$CB$DA/D JC1/D3Z8WED1ECW.CCWE.Y92OAGY8MY9L+9MPCG/D5 C5IA5N9$PC5$CUZCY$5Y$527B+A4KZNQG5TKOWWD9FL%I8U$F7O2IBM85CWOC%LEZU4R/BXHDAHN 11$CA5MRI:AONFN7091K9FKIGIY%VWSSSU9%01FO2*FTPQ3C3F"} {
		b, _, err := qr.Encode(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xdb})
	f.Fuzz(func(t *testing.T, img []byte) {
		got, err := qr.Decode(img)
		if err != nil && !errors.Is(err, qr.ErrImage) && !errors.Is(err, qr.ErrNoCode) {
			t.Fatalf("Decode = %q, %v: error wraps neither ErrImage nor ErrNoCode", got, err)
		}
		if err != nil && got != "" {
			t.Fatalf("Decode returned text %q with error %v", got, err)
		}
	})
}

// FuzzDecodePixels feeds arbitrary pixels to the QR detector and decoder: most inputs to
// FuzzDecode stop at the PNG checksum. The first byte sets the width; the rest are grey levels.
func FuzzDecodePixels(f *testing.F) {
	b, _, err := qr.Encode("HC1:6BF+70790T9WJWG.FKY*4GO0")
	if err != nil {
		f.Fatal(err)
	}
	code, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		f.Fatal(err)
	}
	// The code at one pixel per module (its PNG uses at least 4).
	modules := code.Bounds().Dx() / 9
	seed := []byte{byte(modules)}
	for y := 0; y < modules; y++ {
		for x := 0; x < modules; x++ {
			r, _, _, _ := code.At(x*9, y*9).RGBA()
			seed = append(seed, byte(r>>8))
		}
	}
	f.Add(seed)
	f.Add([]byte{3, 0, 255, 0, 255, 0, 255, 0, 255, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		w := max(1, int(data[0]))
		pix := data[1:]
		h := max(1, len(pix)/w)
		m := image.NewGray(image.Rect(0, 0, w, h))
		copy(m.Pix, pix)
		var buf bytes.Buffer
		if err := png.Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
		if _, err := qr.Decode(buf.Bytes()); err != nil && !errors.Is(err, qr.ErrNoCode) {
			t.Fatalf("Decode of a valid PNG = %v, want nil or ErrNoCode", err)
		}
	})
}

var benchText = text(1200, lowerPrintable, 5)

func BenchmarkEncode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := qr.Encode(benchText); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	img, _, err := qr.Encode(benchText)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		got, err := qr.Decode(img)
		if err != nil || got != benchText {
			b.Fatalf("Decode = %d bytes, %v", len(got), err)
		}
	}
}

func ExampleEncode() {
	const text = "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH"
	png, version, err := qr.Encode(text)
	if err != nil {
		panic(err)
	}
	decoded, err := qr.Decode(png)
	fmt.Println(version, decoded == text, err)
	// Output: 2 true <nil>
}
