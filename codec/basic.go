package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/streamctl/streamctl/internal/jsonvalid"
)

// rawCodec passes bytes through untouched, like Faust's raw codec.
type rawCodec struct{}

func (rawCodec) Encode(text []byte) ([]byte, error) { return text, nil }
func (rawCodec) Decode(wire []byte) ([]byte, error) { return wire, nil }

// jsonCodec checks JSON without re-encoding it on the way out, so what the
// user sees is byte for byte what the producer wrote. The check is one pass
// over the bytes, allocating nothing, with encoding/json.Valid's verdict.
type jsonCodec struct{}

func (jsonCodec) Decode(wire []byte) ([]byte, error) {
	if jsonvalid.Valid(wire) {
		return wire, nil
	}
	return nil, jsonError(wire)
}

// Encode compacts, which matches the separators Faust passes to json.dumps
// (",", ":") and drops the newline a terminal adds.
func (jsonCodec) Encode(text []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(text))
	if err := json.Compact(&buf, text); err != nil {
		return nil, jsonError(text)
	}
	return buf.Bytes(), nil
}

// jsonError explains why b is not JSON. jsonvalid.Valid is the fast path and
// says nothing, so the slow path runs only once we know it failed.
func jsonError(b []byte) error {
	var v any
	err := json.Unmarshal(b, &v)
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("invalid json: %s at byte %d", syn.Error(), syn.Offset)
	}
	if err != nil {
		return fmt.Errorf("invalid json: %w", err)
	}
	return errors.New("invalid json")
}

// binaryCodec is Faust's binary codec: standard (not URL-safe) base64 on
// the wire, the decoded bytes as the text form.
type binaryCodec struct{}

func (binaryCodec) Encode(text []byte) ([]byte, error) {
	out := make([]byte, base64.StdEncoding.EncodedLen(len(text)))
	base64.StdEncoding.Encode(out, text)
	return out, nil
}

func (binaryCodec) Decode(wire []byte) ([]byte, error) {
	return decodeBase64(wire)
}

// decodeBase64 accepts what Python's b64decode accepts from a well-behaved
// producer: whitespace anywhere is skipped and missing padding is forgiven.
// Unlike Python it rejects any other stray byte instead of silently
// dropping it, because that byte is almost always a sign the value is not
// base64 at all, and the user should hear about it.
func decodeBase64(wire []byte) ([]byte, error) {
	// RawStdEncoding's bound is the larger one, and the slow path needs it.
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(wire)))
	if n, err := base64.StdEncoding.Decode(out, wire); err == nil {
		return out[:n], nil
	}
	clean := make([]byte, 0, len(wire))
	for i, b := range wire {
		switch {
		case b >= 'A' && b <= 'Z', b >= 'a' && b <= 'z', b >= '0' && b <= '9', b == '+', b == '/':
			if len(clean) > 0 && clean[len(clean)-1] == '=' {
				return nil, fmt.Errorf("invalid base64: data after padding at byte %d", i)
			}
			clean = append(clean, b)
		case b == '=':
			clean = append(clean, b)
		case b == ' ', b == '\t', b == '\n', b == '\r', b == '\v', b == '\f':
		default:
			return nil, fmt.Errorf("invalid base64: unexpected %q at byte %d", b, i)
		}
	}
	clean = bytes.TrimRight(clean, "=")
	n, err := base64.RawStdEncoding.Decode(out, clean)
	if err != nil {
		return nil, fmt.Errorf("invalid base64: %d significant characters cannot encode whole bytes", len(clean))
	}
	return out[:n], nil
}

// hexCodec is streamctl's own: hex digits on the wire, the decoded bytes as
// the text form, mirroring binary.
type hexCodec struct{}

func (hexCodec) Encode(text []byte) ([]byte, error) {
	out := make([]byte, hex.EncodedLen(len(text)))
	hex.Encode(out, text)
	return out, nil
}

// Decode ignores surrounding whitespace, since hex typed or piped through a
// shell usually ends with a newline.
func (hexCodec) Decode(wire []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(wire)
	out := make([]byte, hex.DecodedLen(len(trimmed)))
	n, err := hex.Decode(out, trimmed)
	if err != nil {
		var inv hex.InvalidByteError
		if errors.As(err, &inv) {
			return nil, fmt.Errorf("invalid hex: unexpected %q at byte %d", byte(inv), bytes.IndexByte(wire, byte(inv)))
		}
		return nil, fmt.Errorf("invalid hex: %w", err)
	}
	return out[:n], nil
}
