package escape

import (
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`a\nb`, "a\nb"},
		{`\r\t\0\\`, "\r\t\x00\\"},
		{`\x41\xff\x1E`, "A\xff\x1e"},
		{`plain`, "plain"},
		{``, ""},
	} {
		got, err := Decode(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("Decode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`\`, "trailing backslash"},
		{`\q`, `unknown escape \q`},
		{`\x4`, "two hex digits"},
		{`\xzz`, `\xzz`},
	} {
		_, err := Decode(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%q) error = %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(`\x00\n\\abc\t`)
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Decode(s)
		if err == nil && len(b) > len(s) {
			t.Fatalf("Decode(%q) grew to %d bytes", s, len(b))
		}
	})
}
