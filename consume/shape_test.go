package consume

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/codec"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// TestJSONValuesOfOneShape: values of one shape, as a producer writes
// them, with values one byte off that shape among them and other shapes
// after them, come out byte for byte, and each invalid one is skipped
// with a warning naming its offset and the byte where it goes wrong, as
// when every value is read against the grammar. Keys go through the same
// chain as values, with a shape of their own.
func TestJSONValuesOfOneShape(t *testing.T) {
	_, addr := seedCluster(t, 1, 1, 0)
	var msgs []kafkatest.Message
	var want strings.Builder
	for i := range 30 {
		v := fmt.Sprintf(`{"id":%d,"user":"user-%03d","ok":%t}`, i*7, i, i%3 == 0)
		msgs = append(msgs, kafkatest.Message{Key: fmt.Appendf(nil, `"k%d"`, i), Value: []byte(v)})
		fmt.Fprintln(&want, v)
	}
	bad := []string{`{"id":07,"user":"user-000","ok":true}`, `{"id":7,"user":"us"er","ok":true}`, `{"id":7,"user":"user-000","ok":yes}`}
	for _, v := range bad {
		msgs = append(msgs, kafkatest.Message{Key: []byte(`"k"`), Value: []byte(v)})
	}
	for _, v := range []string{`{"id":"7"}`, `[1,2]`, `{"id":7,"user":"user-000","ok":true}`} {
		msgs = append(msgs, kafkatest.Message{Key: []byte(`"k"`), Value: []byte(v)})
		fmt.Fprintln(&want, v)
	}
	kafkatest.Produce(t, addr, "t", msgs...)
	json, err := codec.Parse("json")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var warnings []string
	var out strings.Builder
	st, err := Run(ctx, kafkatest.Client(t, addr), Options{Topics: []string{"t"}, Exit: true, KeyCodec: json, ValueCodec: json, SkipInvalid: true,
		Warn: func(s string) { warnings = append(warnings, s) }}, &out)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if diff := cmp.Diff(want.String(), out.String()); diff != "" {
		t.Errorf("output mismatch (-want +got):\n%s", diff)
	}
	if st.Written != 33 {
		t.Errorf("Written = %d, want 33", st.Written)
	}
	wantWarn := []string{
		"offset 30: cannot decode value: invalid json: invalid character '7' after object key:value pair at byte 8",
		"offset 31: cannot decode value: invalid json: invalid character 'e' after object key:value pair at byte 20",
		"offset 32: cannot decode value: invalid json: invalid character 'y' looking for beginning of value at byte 32",
	}
	all := strings.Join(warnings, "\n")
	for _, w := range wantWarn {
		if !strings.Contains(all, w) {
			t.Errorf("warnings %q do not say %q", warnings, w)
		}
	}
}
