package codec

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// protoRegistry holds the orders schema under orders-value, importing
// shop/common.proto from the subject common, as Confluent clients register
// them.
func protoRegistry(t *testing.T) (*fakeRegistry, int) {
	t.Helper()
	reg := newFakeRegistry()
	reg.add("common", Schema{Type: Protobuf, Text: protoCommon})
	id := reg.add("orders-value", Schema{Type: Protobuf, Text: protoOrders, References: []Reference{
		{Name: "shop/common.proto", Subject: "common", Version: 1},
	}})
	return reg, id
}

func TestProtoSchemaCodec(t *testing.T) {
	reg, id := protoRegistry(t)
	enc, err := ParseSchema("protobuf", &SchemaConfig{Registry: reg, Topic: "orders", ProtoMessage: "shop.Order.Item"})
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Prepare(); err != nil {
		t.Fatal(err)
	}
	wire, err := enc.Encode([]byte(`{"sku": "tea", "price": {"currency": "EUR", "units": "2"}}`))
	if err != nil {
		t.Fatal(err)
	}
	// Magic byte, id 2, index [0 2], then the message.
	if got, want := hex.EncodeToString(wire[:8]), "0000000002040004"; got != want || id != 2 {
		t.Errorf("framing = %s (id %d), want %s", got, id, want)
	}
	for _, spec := range []string{"protobuf", "sr"} {
		dec, err := ParseSchema(spec, &SchemaConfig{Registry: reg})
		if err != nil {
			t.Fatal(err)
		}
		text, gotID, err := dec.DecodeID(wire)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if want := `{"sku":"tea","price":{"currency":"EUR","units":"2"}}`; string(text) != want || gotID != id {
			t.Errorf("%s: decoded %s (id %d), want %s (id %d)", spec, text, gotID, want, id)
		}
	}
	_, err = enc.Encode([]byte(`{"qty": "many"}`))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "qty" {
		t.Errorf("bad input: got %v, want a FieldError at qty", err)
	}
}

// TestProtoSchemaCodecWriterChoice checks that which message to write is
// settled by Prepare, before any input, and that consuming never needs it.
func TestProtoSchemaCodecWriterChoice(t *testing.T) {
	reg, _ := protoRegistry(t)
	for _, tc := range []struct{ message, want string }{
		{"", `schema 2: the protobuf schema defines several messages: shop.Order, shop.Refund`},
		{"shop.Nope", `schema 2 (subject "orders-value"): the protobuf schema has no message "shop.Nope"`},
	} {
		ch, err := ParseSchema("protobuf", &SchemaConfig{Registry: reg, Topic: "orders", ProtoMessage: tc.message})
		if err != nil {
			t.Fatal(err)
		}
		err = ch.Prepare()
		var me *ProtoMessageError
		if !errors.As(err, &me) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Prepare with message %q = %v, want a ProtoMessageError starting %q", tc.message, err, tc.want)
		}
	}
	// A schema of several messages decodes fine: each payload says which.
	dec, err := ParseSchema("sr", &SchemaConfig{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	text, err := dec.Decode(append(AppendHeader(nil, 2), 0x02, 0x02, 0x0a, 0x01, 'r'))
	if err != nil || string(text) != `{"orderId":"r"}` {
		t.Errorf("Decode = %s, %v, want {\"orderId\":\"r\"}", text, err)
	}
}

// TestProtoSchemaCodecLocal writes with a local .proto, registered under
// the record strategy's subject, the message's full name.
func TestProtoSchemaCodecLocal(t *testing.T) {
	reg := newFakeRegistry()
	local := &Schema{Type: Protobuf, Text: `syntax = "proto3"; package ev; import "google/protobuf/timestamp.proto"; message Click { google.protobuf.Timestamp at = 1; }`}
	ch, err := ParseSchema("protobuf", &SchemaConfig{Registry: reg, Topic: "clicks", Local: local, Register: true, Strategy: TopicRecordName})
	if err != nil {
		t.Fatal(err)
	}
	wire, err := ch.Encode([]byte(`{"at": "2026-12-01T10:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if ids := reg.subjects["clicks-ev.Click"]; len(ids) != 1 {
		t.Fatalf("subjects = %v, want clicks-ev.Click registered", reg.subjects)
	}
	text, err := ch.Decode(wire)
	if err != nil || string(text) != `{"at":"2026-12-01T10:00:00Z"}` {
		t.Errorf("Decode = %s, %v", text, err)
	}

	several := &Schema{Type: Protobuf, Text: `syntax = "proto3"; message A {} message B {}`}
	ch, err = ParseSchema("protobuf", &SchemaConfig{Registry: reg, Topic: "t", Local: several, Strategy: RecordName})
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Prepare(); err == nil || err.Error() != "the local schema: the protobuf schema defines several messages: A, B" {
		t.Errorf("Prepare = %v, want the local schema's messages listed", err)
	}
}
