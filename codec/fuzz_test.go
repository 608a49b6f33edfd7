package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzPickleDecode feeds arbitrary bytes to the pickle reader: it may fail
// but must not panic, hang or allocate without bound, and what it renders
// must be JSON.
func FuzzPickleDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "*.b64"))
	for _, file := range files {
		wire, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(wire)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add(billionLaughs(20))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := DecodePickle(raw)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("DecodePickle(%q) = %s, which is not JSON", raw, out)
		}
	})
}

// FuzzChainRoundTrip checks that what Encode writes, Decode reads back.
func FuzzChainRoundTrip(f *testing.F) {
	specs := []string{"binary", "hex", "binary|binary", "hex|binary", "json", "json|binary", "json|hex", "pickle"}
	for i := range specs {
		f.Add(uint8(i), []byte(`{"a":[1,2.5,"x"],"b":null}`))
		f.Add(uint8(i), []byte("\x00\xff plain"))
	}
	f.Fuzz(func(t *testing.T, which uint8, text []byte) {
		spec := specs[int(which)%len(specs)]
		c, err := Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		wire, err := c.Encode(text)
		if err != nil {
			if c.JSON() && !json.Valid(text) {
				return // only JSON text can be encoded as JSON
			}
			t.Fatalf("%s: Encode(%q): %v", spec, text, err)
		}
		got, err := c.Decode(wire)
		if err != nil {
			t.Fatalf("%s: Decode(Encode(%q)) = %q: %v", spec, text, wire, err)
		}
		if !c.JSON() {
			if !bytes.Equal(got, text) {
				t.Fatalf("%s: round trip of %q gave %q", spec, text, got)
			}
			return
		}
		// JSON comes back equivalent, not identical: compacted, and for
		// pickle with floats in Python's spelling.
		var want, have any
		if err := json.Unmarshal(text, &want); err != nil {
			return // valid per json.Valid but e.g. invalid UTF-8 handled differently
		}
		if err := json.Unmarshal(got, &have); err != nil {
			t.Fatalf("%s: Decode gave invalid JSON %q", spec, got)
		}
		// DeepEqual compares numbers with ==, so the -0 that Python's
		// json.loads reads as the int 0 still matches.
		if !reflect.DeepEqual(want, have) {
			t.Fatalf("%s: round trip of %s gave %s", spec, text, got)
		}
	})
}

// FuzzAvroDecode feeds arbitrary payloads to the Avro decoder of a schema
// with every kind of type, recursion included: it may fail but must not
// panic, and what it writes must be JSON that encodes back.
func FuzzAvroDecode(f *testing.F) {
	reg := newFakeRegistry()
	id := reg.add("all", Schema{Type: Avro, Text: avroAll})
	lid := reg.add("logical", Schema{Type: Avro, Text: avroLogical})
	uid := reg.add("unions", Schema{Type: Avro, Text: avroUnions})
	nid := reg.add("list", Schema{Type: Avro, Text: avroList})
	ids := []int{id, lid, uid, nid}
	f.Add(uint8(0), []byte("\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add(uint8(2), []byte("\x02\x08bare\x02\x0e\x02\x02\x00\x02\x90\xe2\x86\x82\x99\x63"))
	f.Add(uint8(3), []byte("\x02\x02\x04\x02\x06\x00"))
	f.Add(uint8(3), []byte("\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	plain, _ := ParseSchema("avro", &SchemaConfig{Registry: reg})
	native, _ := ParseSchema("avro", &SchemaConfig{Registry: reg, AvroJSON: AvroNative})
	nativeEnc, _ := ParseSchema("avro", &SchemaConfig{Registry: reg, AvroJSON: AvroNative})
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		wire := append(AppendHeader(nil, ids[int(which)%len(ids)]), payload...)
		out, err := plain.Decode(wire)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Decode(%x) = %s, which is not JSON", wire, out)
		}
		avroJSON, err := native.Decode(wire)
		if err != nil {
			t.Fatalf("plain decoded %x but Avro JSON did not: %v", wire, err)
		}
		back, err := nativeEnc.EncodeID(avroJSON, ids[int(which)%len(ids)])
		if err != nil {
			t.Fatalf("Avro JSON %s of %x does not encode back: %v", avroJSON, wire, err)
		}
		if again, err := native.Decode(back); err != nil || string(again) != string(avroJSON) {
			t.Fatalf("%x -> %s -> %x -> %s, %v", wire, avroJSON, back, again, err)
		}
	})
}
