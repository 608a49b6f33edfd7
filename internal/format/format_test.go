package format

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/envelope"
)

func rec() *envelope.Record {
	return &envelope.Record{
		Topic: "t", Partition: 2, Offset: 41, Timestamp: 1714564800123, HasTimestamp: true,
		Key: []byte("k1"), Value: []byte(`{"a":[1,true,null,"x"],"b":{}}`), ValueJSON: true,
		Headers: []envelope.Header{{Key: "h", Value: []byte("v")}, {Key: "h", Value: nil}},
	}
}

func TestTemplateVerbs(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{`%t %p %o %T`, "t 2 41 1714564800123"},
		{`%k=%s\n`, "k1=" + `{"a":[1,true,null,"x"],"b":{}}` + "\n"},
		{`%K %S`, "2 30"},
		{`%h`, "h=v,h="},
		{`100%%\t\x41\\`, "100%\tA\\"},
		{`plain`, "plain"},
		{`%R%s`, "\x00\x00\x00\x1e" + `{"a":[1,true,null,"x"],"b":{}}`},
	} {
		tmpl, err := ParseTemplate(tc.format)
		if err != nil {
			t.Fatalf("ParseTemplate(%q): %v", tc.format, err)
		}
		if got := string(tmpl.Append(nil, rec())); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.format, got, tc.want)
		}
	}
}

func TestTemplateNullLengths(t *testing.T) {
	tmpl, err := ParseTemplate(`%K %S [%k][%s]%R`)
	if err != nil {
		t.Fatal(err)
	}
	r := &envelope.Record{Key: nil, Value: []byte{}}
	if got, want := string(tmpl.Append(nil, r)), "-1 0 [][]\x00\x00\x00\x00"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTemplateErrors(t *testing.T) {
	for _, f := range []string{`%`, `%z`, `\`, `\q`, `\x4`, `\xzz`} {
		if _, err := ParseTemplate(f); err == nil {
			t.Errorf("ParseTemplate(%q): want an error", f)
		} else if !strings.HasPrefix(err.Error(), "format:") {
			t.Errorf("ParseTemplate(%q) error %q does not start with format:", f, err)
		}
	}
}

func TestPrettyPlainNoColour(t *testing.T) {
	got := string(Pretty{}.Append(nil, rec()))
	want := "t/2 @41  2024-05-01T12:00:00.123Z  key=k1  h=v  h=(null)\n" +
		"{\n  \"a\": [\n    1,\n    true,\n    null,\n    \"x\"\n  ],\n  \"b\": {}\n}\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPrettyEscapesControlBytes(t *testing.T) {
	r := &envelope.Record{Topic: "t", Key: nil, Value: []byte("a\x1b[31mb\xff")}
	got := string(Pretty{}.Append(nil, r))
	if strings.Contains(got, "\x1b") || !strings.Contains(got, `a\x1b[31mb\xff`) {
		t.Errorf("got %q, want control and invalid bytes escaped", got)
	}
	if !strings.Contains(got, "key=(null)") {
		t.Errorf("got %q, want key=(null) for a null key", got)
	}
}

func TestPrettyColours(t *testing.T) {
	pal := Palette{Key: Style{"<k>", "</k>"}, String: Style{"<s>", "</s>"}, Number: Style{"<n>", "</n>"},
		Literal: Style{"<l>", "</l>"}, Punct: Style{"", ""}, Meta: Style{"<m>", "</m>"}}
	r := &envelope.Record{Topic: "t", Value: []byte(`{"k":"v","n":-1.5e3,"b":false}`), ValueJSON: true}
	got := string(Pretty{Palette: pal}.Append(nil, r))
	for _, want := range []string{`<k>"k"</k>`, `<s>"v"</s>`, `<n>-1.5e3</n>`, `<l>false</l>`, `<m>t/0 @0</m>`} {
		if !strings.Contains(got, want) {
			t.Errorf("output %q lacks %q", got, want)
		}
	}
}

func TestPlainAndJSON(t *testing.T) {
	r := rec()
	if got, want := string(Plain{}.Append(nil, r)), string(r.Value)+"\n"; got != want {
		t.Errorf("Plain: got %q, want %q", got, want)
	}
	got := string(JSON{}.Append(nil, r))
	if !strings.HasSuffix(got, "}\n") || strings.Count(got, "\n") != 1 {
		t.Errorf("JSON: got %q, want one line", got)
	}
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{`%t %p %o %k %s %K %S %T %h\n`, `\x00\t%%`, `%`, `\x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := ParseTemplate(s)
		if err != nil {
			return
		}
		_ = tmpl.Append(nil, rec())
		_ = tmpl.Append(nil, &envelope.Record{})
	})
}

func FuzzPrettyJSON(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"c\"d"}],"e":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = Pretty{}.Append(nil, &envelope.Record{Value: b, ValueJSON: true})
	})
}

func BenchmarkPlain(b *testing.B) {
	r := rec()
	buf := make([]byte, 0, 256)
	for i := 0; i < b.N; i++ {
		buf = Plain{}.Append(buf[:0], r)
	}
}

func BenchmarkJSONEnvelope(b *testing.B) {
	r := rec()
	buf := make([]byte, 0, 256)
	for i := 0; i < b.N; i++ {
		buf = JSON{}.Append(buf[:0], r)
	}
}

func BenchmarkTemplate(b *testing.B) {
	tmpl, _ := ParseTemplate(`%t %p %o %k %s\n`)
	r := rec()
	buf := make([]byte, 0, 256)
	for i := 0; i < b.N; i++ {
		buf = tmpl.Append(buf[:0], r)
	}
}
