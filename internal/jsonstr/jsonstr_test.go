package jsonstr

import (
	"encoding/json"
	"testing"
)

func TestAppend(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", `"plain"`},
		{"q\"b\\", `"q\"b\\"`},
		{"\n\r\t\x00\x1f\x7f", `"\n\r\t\u0000\u001f\u007f"`},
		{"é 😀 <&>", `"é 😀 <&>"`},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
	} {
		got := string(Append(nil, tc.in))
		if got != tc.want {
			t.Errorf("Append(%q) = %s, want %s", tc.in, got, tc.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("Append(%q) = %s: not valid JSON", tc.in, got)
		}
	}
}

func FuzzAppend(f *testing.F) {
	f.Add("a\x00\"\\\xff")
	f.Fuzz(func(t *testing.T, s string) {
		out := Append(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("Append(%q) = %s: %v", s, out, err)
		}
	})
}
