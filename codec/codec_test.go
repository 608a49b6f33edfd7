package codec

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustParse(t testing.TB, spec string) *Chain {
	t.Helper()
	c, err := Parse(spec)
	if err != nil {
		t.Fatalf("Parse(%q): %v", spec, err)
	}
	return c
}

func TestParse(t *testing.T) {
	tests := []struct {
		spec       string
		canonical  string
		json, raw  bool
		errContain string
	}{
		{spec: "", canonical: "raw", raw: true},
		{spec: "raw", canonical: "raw", raw: true},
		{spec: "json", canonical: "json", json: true},
		{spec: " json | binary ", canonical: "json|binary", json: true},
		{spec: "binary|json", canonical: "binary|json"},
		{spec: "binary|binary", canonical: "binary|binary"},
		{spec: "raw|raw", canonical: "raw|raw"},
		{spec: "pickle", canonical: "pickle", json: true},
		{spec: "pickle_restricted", canonical: "pickle_restricted", json: true},
		{spec: "hex", canonical: "hex"},
		{spec: "avro", canonical: "avro", json: true},
		{spec: "sr|binary", canonical: "sr|binary", json: true},
		{spec: "xml", errContain: `unknown codec "xml" (known: avro, binary, hex, json, jsonschema, pickle, pickle_fickling, pickle_restricted, protobuf, raw, sr)`},
		{spec: "json|", errContain: `empty name`},
		{spec: "JSON", errContain: `unknown codec "JSON"`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			c, err := Parse(tt.spec)
			if tt.errContain != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errContain) {
					t.Fatalf("got error %v, want one containing %q", err, tt.errContain)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := c.String(), tt.canonical; got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			if got, want := c.JSON(), tt.json; got != want {
				t.Errorf("JSON() = %v, want %v", got, want)
			}
			if got, want := c.Raw(), tt.raw; got != want {
				t.Errorf("Raw() = %v, want %v", got, want)
			}
		})
	}
}

func TestNames(t *testing.T) {
	got := Names()
	want := []string{"avro", "binary", "hex", "json", "jsonschema", "pickle", "pickle_fickling", "pickle_restricted", "protobuf", "raw", "sr"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Names() mismatch (-want +got):\n%s", diff)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestRoundTrip checks both directions on pairs where the text form is
// canonical, so Encode(text) == wire and Decode(wire) == text.
func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name, spec, text, wire string
	}{
		{"raw", "raw", "\x00any\xffbytes", "\x00any\xffbytes"},
		{"json", "json", `{"a":[1,2.5,"x"],"b":null}`, `{"a":[1,2.5,"x"],"b":null}`},
		{"binary", "binary", "\x00\x01\xfe\xff", "AAH+/w=="},
		{"hex", "hex", "\x00\x01\xfe\xff", "0001feff"},
		{"json|binary is base64 of json", "json|binary", `{"a":1}`, b64(`{"a":1}`)},
		{"binary|binary is base64 twice", "binary|binary", "hi", b64(b64("hi"))},
		{"binary|hex encodes left to right", "binary|hex", "hi", "61476b3d"},
		// Wire values below are CPython 3.11's base64(pickle.dumps(json.loads(text))).
		{"pickle", "pickle", `{"a":[1,2.5],"b":null}`, "gASVHQAAAAAAAAB9lCiMAWGUXZQoSwFHQAQAAAAAAABljAFilE51Lg=="},
		// Faust writes protocol 5 for pickle_restricted; only the header differs.
		{"pickle_restricted", "pickle_restricted", `{"a":[1,2.5],"b":null}`, "gAWVHQAAAAAAAAB9lCiMAWGUXZQoSwFHQAQAAAAAAABljAFilE51Lg=="},
		{"pickle bytes", "pickle", `{"__bytes__":"AP8="}`, "gASVBgAAAAAAAABDAgD/lC4="},
		{"empty passes through", "pickle|json", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.spec)
			gotWire, err := c.Encode([]byte(tt.text))
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if diff := cmp.Diff(tt.wire, string(gotWire)); diff != "" {
				t.Errorf("Encode mismatch (-want +got):\n%s", diff)
			}
			gotText, err := c.Decode([]byte(tt.wire))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.text, string(gotText)); diff != "" {
				t.Errorf("Decode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, spec, wire, want string
	}{
		{"json is returned byte for byte", "json", "{ \"a\" :\n  [1, 2] }\n", "{ \"a\" :\n  [1, 2] }\n"},
		{"binary skips whitespace", "binary", " YW\nJj\r\n", "abc"},
		{"binary forgives missing padding", "binary", "YWI", "ab"},
		{"binary with padding", "binary", "YWI=", "ab"},
		{"hex upper case and newline", "hex", "CAFE\n", "\xca\xfe"},
		{"json|binary decodes binary first", "json|binary", b64(`[1, 2]`), `[1, 2]`},
		{"faust json|binary", "json|binary", "eyJuYW1lIjoiY2FmXHUwMGU5IiwiaXRlbXMiOlsxLFsyLDNdLHsiayI6bnVsbH1dLCJvayI6dHJ1ZSwibm8iOmZhbHNlLCJub25lIjpudWxsfQ==",
			`{"name":"caf\u00e9","items":[1,[2,3],{"k":null}],"ok":true,"no":false,"none":null}`},
		{"pickle tolerates a trailing newline", "pickle", "gARLAS4=\n", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mustParse(t, tt.spec).Decode([]byte(tt.wire))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Decode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name, spec, text, want string
	}{
		{"json compacts like faust's separators", "json", "{ \"a\" : [1, 2],\n \"b\": \"x y\" }\n", `{"a":[1,2],"b":"x y"}`},
		{"hex lower case", "hex", "\xca\xfe", "cafe"},
		{"pickle big int", "pickle", "123456789012345678901234567890", "gASVEAAAAAAAAACKDdIKP07u4HPD9g/pjgEu"},
		{"pickle keeps first position of a repeated key, last value", "pickle", `{"a":1,"b":2,"a":3}`, "gASVEQAAAAAAAAB9lCiMAWGUSwOMAWKUSwJ1Lg=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mustParse(t, tt.spec).Encode([]byte(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Encode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, spec, op, in, want string
	}{
		{"json decode garbage", "json", "decode", `{"a":}`, "invalid json: invalid character '}' looking for beginning of value at byte 6"},
		{"json encode truncated", "json", "encode", `[1,`, "invalid json: unexpected end of JSON input at byte 3"},
		{"binary stray byte", "binary", "decode", "YW*Jj", `invalid base64: unexpected '*' at byte 2`},
		{"binary url-safe alphabet", "binary", "decode", "-_8=", `invalid base64: unexpected '-' at byte 0`},
		{"binary data after padding", "binary", "decode", "YQ==YQ==", "invalid base64: data after padding at byte 4"},
		{"binary impossible length", "binary", "decode", "YWJjZ", "invalid base64: 5 significant characters cannot encode whole bytes"},
		{"hex odd length", "hex", "decode", "abc", "invalid hex: encoding/hex: odd length hex string"},
		{"hex bad digit", "hex", "decode", "zz", `invalid hex: unexpected 'z' at byte 0`},
		{"chain names the failing binary step", "json|binary", "decode", "!!", "binary decode (step 2 of json|binary): invalid base64"},
		{"chain names the failing json step", "json|binary", "decode", b64("nope"), "json decode (step 1 of json|binary): invalid json"},
		{"pickle not base64", "pickle", "decode", "%%%", "invalid base64"},
		{"pickle truncated", "pickle", "decode", b64("\x80\x04K"), "invalid pickle: pickle data was truncated"},
		{"pickle encode not json", "pickle", "encode", "{nope", "invalid json"},
		{"pickle encode bad bytes", "pickle", "encode", `{"__bytes__":"!!"}`, `"__bytes__" is not standard base64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.spec)
			var err error
			if tt.op == "decode" {
				_, err = c.Decode([]byte(tt.in))
			} else {
				_, err = c.Encode([]byte(tt.in))
			}
			if err == nil {
				t.Fatalf("got no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %q, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestRawDecodeDoesNotAllocate(t *testing.T) {
	c := mustParse(t, "raw")
	in := []byte("hot path")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.Decode(in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("raw Decode allocates %v times per call, want 0", allocs)
	}
}

func TestJSONDecodeDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	c := mustParse(t, "json")
	in := []byte(`{"a":[1,2,{"b":"c"}]}`)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.Decode(in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("json Decode allocates %v times per call, want 0", allocs)
	}
}
