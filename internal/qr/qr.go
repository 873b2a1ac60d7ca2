// Package qr renders and reads the QR codes that carry presentations, credential offers and
// presentation requests between a citizen's phone and a counter.
//
// Encode writes UTF-8 text at error-correction level M as a PNG whose modules are at least
// 4 pixels wide, with the standard 4-module quiet zone. Decode reads PNG or JPEG images of
// bounded size. Both are pure functions, safe for concurrent use.
package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/makiuchi-d/gozxing"
	zxingqr "github.com/makiuchi-d/gozxing/qrcode"
	qrcode "github.com/skip2/go-qrcode"
)

// Limits on the images Decode accepts.
const (
	// MaxImageBytes is the largest encoded image Decode reads: 8 MiB.
	MaxImageBytes = 8 << 20
	// MaxImageSide is the largest width or height, in pixels, Decode reads.
	MaxImageSide = 4096
)

// Rendering parameters.
const (
	minModulePixels = 4   // each module is at least this many pixels wide
	minImagePixels  = 256 // small codes are scaled up to at least this width
	quietZone       = 4   // modules of white border on each side, as ISO/IEC 18004 requires
)

var (
	// ErrNoCode means the image was decoded but no readable QR code was found in it.
	ErrNoCode = errors.New("qr: no QR code found")
	// ErrImage means the input is not a PNG or JPEG image Decode accepts: unknown format,
	// corrupt data, or larger than MaxImageBytes or MaxImageSide.
	ErrImage = errors.New("qr: unreadable image")
	// ErrTooLong means the text does not fit a version-40 QR code at level M.
	ErrTooLong = errors.New("qr: text too long for a QR code")
	// ErrEmpty means there is no text to encode.
	ErrEmpty = errors.New("qr: empty text")
)

// newCode prepares the QR symbol for text at level M without rendering it.
func newCode(text string) (*qrcode.QRCode, error) {
	if text == "" {
		return nil, ErrEmpty
	}
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		// go-qrcode fails only for empty input (handled above) and for input too long for
		// every version.
		return nil, fmt.Errorf("%w: %d bytes: %v", ErrTooLong, len(text), err)
	}
	return q, nil
}

// Encode renders text as a PNG QR code at error-correction level M, with the quiet zone, each
// module at least 4 pixels wide (small codes are scaled to at least 256 pixels), and returns
// the PNG and the QR version (1-40) used, which is always Version(text). Text is encoded as
// its UTF-8 bytes, with no ECI header.
//
// Encode returns an error wrapping ErrEmpty for empty text and ErrTooLong for text that does
// not fit a version-40 code (at most 2,331 bytes, or 3,391 characters of the alphanumeric set).
func Encode(text string) (pngData []byte, version int, err error) {
	q, err := newCode(text)
	if err != nil {
		return nil, 0, err
	}
	modules := 4*q.VersionNumber + 17 + 2*quietZone
	px := max(minModulePixels, (minImagePixels+modules-1)/modules)
	b, err := q.PNG(-px) // a negative size is pixels per module
	if err != nil {
		return nil, 0, fmt.Errorf("qr: writing PNG: %w", err)
	}
	return b, q.VersionNumber, nil
}

// Version returns the smallest QR version (1-40) that holds text at level M, without
// rendering: the version Encode will use. The encoder splits text into numeric,
// alphanumeric and byte segments where that is shorter, so text entirely in the QR
// alphanumeric set (0-9, A-Z, space and $%*+-./:) such as base45 is encoded in alphanumeric
// mode, other text mostly in byte mode. Errors are those of Encode.
func Version(text string) (int, error) {
	q, err := newCode(text)
	if err != nil {
		return 0, err
	}
	return q.VersionNumber, nil
}

// Decode reads the first QR code found in a PNG or JPEG image and returns its text, taking
// byte segments without an ECI header as UTF-8. It searches hard (TRY_HARDER: small,
// off-centre and tilted codes).
//
// Errors wrap ErrImage when img is not a PNG or JPEG, is corrupt, is larger than
// MaxImageBytes, or is wider or taller than MaxImageSide pixels (checked before the pixels
// are decoded), and ErrNoCode when the image holds no readable QR code.
func Decode(img []byte) (string, error) {
	m, err := decodeImage(img)
	if err != nil {
		return "", err
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(m)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoCode, err)
	}
	sawPattern := false
	hints := map[gozxing.DecodeHintType]any{
		gozxing.DecodeHintType_TRY_HARDER:    true,
		gozxing.DecodeHintType_CHARACTER_SET: "UTF-8",
		gozxing.DecodeHintType_NEED_RESULT_POINT_CALLBACK: gozxing.ResultPointCallback(func(gozxing.ResultPoint) {
			sawPattern = true
		}),
	}
	reader := zxingqr.NewQRCodeReader()
	res, err := reader.Decode(bmp, hints)
	if err == nil {
		return res.GetText(), nil
	}
	if sawPattern {
		// gozxing's detector now and then settles on a false finder pattern in the data of a
		// perfectly good code (about 1 in 20 of our own codes of version 13 and up). It scans
		// rows, so the same code turned a quarter turn is usually found; an axis-aligned code
		// alone in the image (a screenshot) is read without the detector as a last resort.
		if text, ok := decodeFallback(reader, bmp); ok {
			return text, nil
		}
	}
	return "", fmt.Errorf("%w: %v", ErrNoCode, err)
}

// decodeFallback tries bmp turned by a quarter, half and three quarters, then as a pure
// barcode.
func decodeFallback(reader gozxing.Reader, bmp *gozxing.BinaryBitmap) (string, bool) {
	hints := map[gozxing.DecodeHintType]any{
		gozxing.DecodeHintType_TRY_HARDER:    true,
		gozxing.DecodeHintType_CHARACTER_SET: "UTF-8",
	}
	turned := bmp
	for range 3 {
		var err error
		if turned, err = turned.RotateCounterClockwise(); err != nil {
			break
		}
		if res, err := reader.Decode(turned, hints); err == nil {
			return res.GetText(), true
		}
	}
	pure := map[gozxing.DecodeHintType]any{
		gozxing.DecodeHintType_PURE_BARCODE:  true,
		gozxing.DecodeHintType_CHARACTER_SET: "UTF-8",
	}
	if res, err := reader.Decode(bmp, pure); err == nil {
		return res.GetText(), true
	}
	return "", false
}

var (
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
	jpegMagic = []byte{0xff, 0xd8, 0xff}
)

// decodeImage decodes a PNG or JPEG within the limits. It sniffs the format itself rather
// than use image.Decode, whose formats are whatever the program happens to register.
func decodeImage(img []byte) (image.Image, error) {
	if len(img) > MaxImageBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrImage, len(img), MaxImageBytes)
	}
	var (
		decodeConfig func(io.Reader) (image.Config, error)
		decode       func(io.Reader) (image.Image, error)
	)
	switch {
	case bytes.HasPrefix(img, pngMagic):
		decodeConfig, decode = png.DecodeConfig, png.Decode
	case bytes.HasPrefix(img, jpegMagic):
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
	default:
		return nil, fmt.Errorf("%w: not a PNG or JPEG image", ErrImage)
	}
	cfg, err := decodeConfig(bytes.NewReader(img))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImage, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxImageSide || cfg.Height > MaxImageSide {
		return nil, fmt.Errorf("%w: %dx%d pixels, the limit is %dx%d", ErrImage, cfg.Width, cfg.Height, MaxImageSide, MaxImageSide)
	}
	m, err := decode(bytes.NewReader(img))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImage, err)
	}
	return m, nil
}
