package codec

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fixtureDir holds pickles written by testdata/codec/gen_fixtures.py.
const fixtureDir = "../testdata/codec/pickle"

// pickleWants is what every protocol's fixture of a case renders to; the
// cases are defined in gen_fixtures.py.
var pickleWants = map[string]string{
	"nested":        `{"name":"café","items":[1,[2,3],{"k":null}],"ok":true,"no":false,"none":null}`,
	"tuple":         `[1,"a",[2.5]]`,
	"set":           `[1,2,3]`,
	"frozenset":     `["x"]`,
	"bytes":         `[{"__bytes__":"AP9iaW4="},"plain text",""]`,
	"bytearray":     `{"__bytes__":"Af4="}`,
	"unicode":       `"héllo wörld ✓ 🚀 \"quoted\" \\ \n"`,
	"bigint":        `[1267650600228229401496703205376,-1180591620717411303424,2147483648,-2147483649,255,65535,-1]`,
	"float":         `[1.0,0.1,-2.5e-10,1e+100,1e+16,123456.789,-0.0]`,
	"float_special": `["NaN","Infinity","-Infinity"]`,
	"keys":          `{"1":"int","null":"none","[1,2]":"tuple","2.5":"float","k":"bytes"}`,
	"datetime": `[` +
		`{"__class__":"datetime.datetime","value":"2024-01-02T03:04:05.000006","args":[{"__bytes__":"B+gBAgMEBQAABg=="}]},` +
		`{"__class__":"datetime.datetime","value":"2024-01-02T03:04:05+00:00","args":[{"__bytes__":"B+gBAgMEBQAAAA=="},` +
		`{"__class__":"datetime.timezone","args":[{"__class__":"datetime.timedelta","args":[0,0,0]}]}]},` +
		`{"__class__":"datetime.date","value":"2024-02-29","args":[{"__bytes__":"B+gCHQ=="}]},` +
		`{"__class__":"datetime.time","value":"23:59:01","args":["\u0017;\u0001\u0000\u0000\u0000"]}]`,
	"decimal":     `{"__class__":"decimal.Decimal","value":"12.50","args":["12.50"]}`,
	"uuid":        `{"__class__":"uuid.UUID","value":"12345678-1234-5678-1234-567812345678","state":{"int":24197857161011715162171839636988778104}}`,
	"class":       `{"__class__":"shop.models.Order","state":{"id":7,"items":["apple","pear"]}}`,
	"ordereddict": `{"__class__":"collections.OrderedDict","dictitems":{"b":1,"a":2}}`,
	"recursive":   `[1,{"__recursive__":true}]`,
	"shared":      `[[1],[1]]`,
}

func TestPickleFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.b64"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s (%v); run gen_fixtures.py", fixtureDir, err)
	}
	seen := map[string]bool{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".b64")
		t.Run(name, func(t *testing.T) {
			// <case>.p<N> from CPython, faust_<codec>_<case> from Faust.
			c := strings.Split(name, ".")[0]
			spec := "pickle"
			for _, s := range []string{"pickle_restricted", "pickle"} {
				if rest, ok := strings.CutPrefix(c, "faust_"+s+"_"); ok {
					c, spec = rest, s
					break
				}
			}
			want, ok := pickleWants[c]
			if !ok {
				t.Fatalf("no expected rendering for case %q", c)
			}
			seen[c] = true
			wire, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := mustParse(t, spec).Decode(wire)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, string(got)); diff != "" {
				t.Errorf("Decode mismatch (-want +got):\n%s", diff)
			}
		})
	}
	for c := range pickleWants {
		if !seen[c] {
			t.Errorf("case %q has no fixture file", c)
		}
	}
}

// TestPickleHandwritten covers opcodes CPython 3 does not write for the
// fixtures: Python 2's STRING, INST and OBJ, and unusual but valid streams.
func TestPickleHandwritten(t *testing.T) {
	tests := []struct {
		name, pickle, want string
	}{
		{"protocol 0 string escapes", "S'a\\'b\\n\\x41\\101'\np0\n.", `"a'b\nAA"`},
		{"protocol 0 int bool and long", "(I01\nI00\nI-7\nL12345678901234567890L\nF2.5\nl.", `[true,false,-7,12345678901234567890,2.5]`},
		{"inst", "(S'x'\nishop\nThing\n(dS'a'\nI1\nsb.", `{"__class__":"shop.Thing","args":["x"],"state":{"a":1}}`},
		{"obj", "(cshop\nThing\nI2\no.", `{"__class__":"shop.Thing","args":[2]}`},
		{"global not called", "cos\nsystem\n.", `{"__global__":"os.system"}`},
		{"reduce is recorded never run", "cos\nsystem\n(S'rm -rf /'\ntR.", `{"__class__":"os.system","args":["rm -rf /"]}`},
		{"persistent id", "Pkey\n.", `{"__persistent_id__":"key"}`},
		{"extension", "\x80\x02\x82\x05.", `{"__extension__":5}`},
		{"pop removes a bare mark", "(0K\x01.", `1`},
		{"dup and put/get", "K\x012\x86q\x00h\x00\x86.", `[[1,1],[1,1]]`},
		{"newobj_ex", "\x80\x04\x8c\x01m\x8c\x01C\x93)}\x8c\x01k\x94K\x01s\x92.", `{"__class__":"m.C","kwargs":{"k":1}}`},
		{"set via additems", "\x80\x04\x8f(K\x01K\x02\x90.", `[1,2]`},
		{"long1 negative", "\x80\x02\x8a\x01\xff.", `-1`},
		{"long4", "\x80\x02\x8b\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01.", `18446744073709551616`},
		{"bytes keys that are not utf-8", "}C\x01\xffK\x01s.", `{"{\"__bytes__\":\"/w==\"}":1}`},
		{"trailing bytes after stop are ignored", "K\x01.garbage", `1`},
		{"readonly buffer is harmless", "C\x01a\x98.", `"a"`},
		{"lone surrogate becomes U+FFFD", "X\x03\x00\x00\x00\xed\xa0\x80.", `"\ufffd\ufffd\ufffd"`},
		{"control characters are escaped", "\x8c\x02\x01\x7f.", `"\u0001\u007f"`},
		{"datetime with unknown tzinfo has no value", "cdatetime\ndatetime\nC\x0a\x07\xe8\x01\x02\x03\x04\x05\x00\x00\x00czoneinfo\nZoneInfo\n\x86R.",
			`{"__class__":"datetime.datetime","args":[{"__bytes__":"B+gBAgMEBQAAAA=="},{"__global__":"zoneinfo.ZoneInfo"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePickle([]byte(tt.pickle))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("DecodePickle mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// billionLaughs builds a pickle of n nested pairs of the same list, which
// is tiny but renders to 2^n leaves.
func billionLaughs(n int) []byte {
	b := []byte("\x80\x02]q\x00")
	for i := 0; i < n; i++ {
		b = append(b, 'h', byte(i), 'h', byte(i), 0x86, 'q', byte(i+1))
	}
	return append(b, '.')
}

func TestPickleMalformed(t *testing.T) {
	tests := []struct {
		name, pickle, want string
	}{
		{"empty", "", "pickle data was truncated"},
		{"no stop", "\x80\x04K\x01", "pickle data was truncated"},
		{"huge length", "\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f", "pickle data was truncated"},
		{"huge frame", "\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xffK\x01.", "pickle data was truncated"},
		{"negative binstring", "T\xff\xff\xff\xff.", "negative BINSTRING length"},
		{"future protocol", "\x80\x06.", "unsupported pickle protocol 6"},
		{"unknown opcode", "\xff", "opcode 0xff at byte 0: unknown opcode"},
		{"underflow", "t.", "no MARK"},
		{"stop on empty stack", ".", "stack underflow"},
		{"pop past mark", "K\x01(K\x02\x86.", "stack underflow"},
		{"missing memo", "h\x07.", "memo key 7 not found"},
		{"odd dict", "(K\x01d.", "odd number of items for DICT"},
		{"append to int", "K\x01K\x02a.", "APPEND to int"},
		{"build on list", "]K\x01b.", "BUILD on list"},
		{"stack global needs str", "K\x01K\x02\x93.", "STACK_GLOBAL needs two str"},
		{"out of band buffer", "\x80\x05\x97.", "out-of-band buffers"},
		{"bad string quote", "S'abc\n.", "not quoted"},
		{"too deep", strings.Repeat("]", maxPickleDepth+1) + strings.Repeat("a", maxPickleDepth) + ".", "deeper than"},
		{"exponential sharing", string(billionLaughs(40)), "renders to more than"},
		{"huge long", "\x80\x02\x8b\x00\x00\x10\x00" + strings.Repeat("\x01", 1<<20) + ".", "integer of 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePickle([]byte(tt.pickle))
			if err == nil {
				t.Fatalf("got %s, want an error containing %q", got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %q, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestPickleTruncated cuts every fixture at every byte: each prefix must
// fail cleanly, since no valid pickle is a prefix of another.
func TestPickleTruncated(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "*.p[0-5].b64"))
	for _, file := range files {
		wire, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(wire)))
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(raw) - 1 {
			if got, err := DecodePickle(raw[:n]); err == nil {
				t.Errorf("%s cut to %d bytes: got %s, want an error", filepath.Base(file), n, got)
			}
		}
	}
}

// encodeCases are JSON texts whose pickles must match CPython's byte for
// byte. The large ones cross the 64 KiB frame size.
func encodeCases() []string {
	big := make([]string, 0, 3000)
	for i := range 3000 {
		big = append(big, `{"id":`+strings.Repeat("9", i%25+1)+`,"name":"item","tags":["a","b"]}`)
	}
	return []string{
		`null`, `true`, `false`, `0`, `-1`, `255`, `256`, `65535`, `65536`, `2147483647`, `-2147483648`, `2147483648`,
		`-2147483649`, `9223372036854775807`, `-9223372036854775808`, `18446744073709551616`, `-340282366920938463463374607431768211456`,
		`1.5`, `-0.0`, `1e308`, `1e400`, `""`, `"héllo ✓ 🚀"`, `[]`, `{}`, `[1]`, `{"a":1}`, `[[],[{}]]`,
		`{"a":{"a":{"a":"a"}},"b":[{"a":1},{"a":2}]}`,
		`"` + strings.Repeat("x", 255) + `"`, `"` + strings.Repeat("x", 256) + `"`,
		`"` + strings.Repeat("y", 70000) + `"`,
		`[` + strings.Repeat(`1,`, 2500) + `2]`,
		`[` + strings.Join(big, ",") + `]`,
		`{"` + strings.Repeat("k", 70000) + `":["` + strings.Repeat("v", 70000) + `",1]}`,
	}
}

// TestPickleMatchesPython asks CPython both ways: our pickles must equal
// pickle.dumps(json.loads(text)) and load back to the same value.
func TestPickleMatchesPython(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	const script = `
import base64, json, pickle, sys
for line in sys.stdin:
    proto, text, ours = line.rstrip("\n").split("\t")
    obj = json.loads(text)
    want = pickle.dumps(obj, protocol=int(proto))
    got = base64.b64decode(ours)
    loaded = pickle.loads(got)
    same = json.dumps(loaded) == json.dumps(obj)
    print("ok" if got == want and same else "MISMATCH bytes=%s value=%s len=%d/%d first difference at %s" % (got == want, same, len(got), len(want), next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)))
`
	var in bytes.Buffer
	var texts []string
	for _, proto := range []int{2, 3, 4, 5} {
		for _, text := range encodeCases() {
			raw, err := EncodePickle([]byte(text), proto)
			if err != nil {
				t.Fatalf("EncodePickle(%.40s, %d): %v", text, proto, err)
			}
			in.WriteString(strings.Join([]string{string(rune('0' + proto)), text, base64.StdEncoding.EncodeToString(raw)}, "\t") + "\n")
			texts = append(texts, text)
		}
	}
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = &in
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if got, want := len(lines), len(texts); got != want {
		t.Fatalf("python3 answered %d lines, want %d:\n%s", got, want, out)
	}
	for i, line := range lines {
		if line != "ok" {
			t.Errorf("protocol %d, %.60s: %s", 2+i/len(encodeCases()), texts[i], line)
		}
	}
}

func TestPickleBytesRoundTrip(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	wire, err := mustParse(t, "pickle").Encode([]byte(`[{"__bytes__":"AP8="},{"__bytes__":"aGk="}]`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", "import base64,pickle,sys; print(repr(pickle.loads(base64.b64decode(sys.argv[1]))))", string(wire)).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), `[b'\x00\xff', b'hi']`; got != want {
		t.Errorf("python3 loaded %s, want %s", got, want)
	}
}

// TestPickleEncodeDecode checks that text survives streamctl's own round
// trip when it is already in the canonical rendering.
func TestPickleEncodeDecode(t *testing.T) {
	for _, text := range []string{
		`{"a":[1,2.5,"x",{"b":null}],"c":true,"d":false}`,
		`[1.0,0.1,1e+100,-0.0,123456789012345678901234567890]`,
		`{"__bytes__":"AP8="}`,
		`"\u0001 ✓"`,
	} {
		c := mustParse(t, "pickle")
		wire, err := c.Encode([]byte(text))
		if err != nil {
			t.Fatalf("Encode(%s): %v", text, err)
		}
		got, err := c.Decode(wire)
		if err != nil {
			t.Fatalf("Decode(Encode(%s)): %v", text, err)
		}
		if diff := cmp.Diff(text, string(got)); diff != "" {
			t.Errorf("round trip mismatch (-want +got):\n%s", diff)
		}
	}
}

func TestEncodePickleProtocol(t *testing.T) {
	if _, err := EncodePickle([]byte(`1`), 1); err == nil || !strings.Contains(err.Error(), "protocol 1 is not supported") {
		t.Errorf("got %v, want an unsupported protocol error", err)
	}
	if _, err := EncodePickle([]byte(`{"__bytes__":""}`), 2); err == nil || !strings.Contains(err.Error(), "protocol 3 or later") {
		t.Errorf("got %v, want a protocol 3 error", err)
	}
}
