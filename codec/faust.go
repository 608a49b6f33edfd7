package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/streamctl/streamctl/internal/jsonstr"
)

// faustMetaKey is the key Faust's Record.to_representation adds to every
// serialized model, holding {"ns": "module.ClassName"}.
const faustMetaKey = "__faust"

// StripFaustMeta removes the "__faust" key from jsonText's top-level object
// and from every object nested in it, keeping the rest. Input with nothing
// to remove, including JSON that is not an object, is returned unchanged;
// otherwise the objects that lost a key are re-encoded compactly while the
// other values keep their bytes.
func StripFaustMeta(jsonText []byte) ([]byte, error) {
	if !json.Valid(jsonText) {
		return nil, jsonError(jsonText)
	}
	if !bytes.Contains(jsonText, []byte(faustMetaKey)) {
		return jsonText, nil
	}
	out, changed, err := stripMeta(jsonText, -1)
	if err != nil {
		return nil, err
	}
	if !changed {
		return jsonText, nil
	}
	return out, nil
}

// AddFaustMeta sets the top-level "__faust" key of a JSON object to
// {"ns": namespace}, which Faust needs to pick the Record class when a
// topic carries more than one. Like Faust, it puts the key last.
func AddFaustMeta(jsonText []byte, namespace string) ([]byte, error) {
	if !json.Valid(jsonText) {
		return nil, jsonError(jsonText)
	}
	trimmed := bytes.TrimSpace(jsonText)
	if trimmed[0] != '{' {
		return nil, errors.New("faust metadata needs a json object")
	}
	body, _, err := stripMeta(trimmed, 1)
	if err != nil {
		return nil, err
	}
	body = bytes.TrimSpace(body)
	out := make([]byte, 0, len(body)+len(namespace)+24)
	out = append(out, body[:len(body)-1]...)
	if len(bytes.TrimSpace(body[1:len(body)-1])) > 0 {
		out = append(out, ',')
	}
	out = append(out, `"__faust":{"ns":`...)
	out = jsonstr.Append(out, namespace)
	return append(out, "}}"...), nil
}

// stripMeta removes "__faust" from objects down to depth levels (-1 for
// all) and reports whether it removed any. Values it does not change are
// copied as raw bytes.
func stripMeta(raw []byte, depth int) ([]byte, bool, error) {
	raw = bytes.TrimSpace(raw)
	if depth == 0 || len(raw) == 0 || (raw[0] != '{' && raw[0] != '[') {
		return raw, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, false, fmt.Errorf("invalid json: %w", err)
	}
	isObject := raw[0] == '{'
	out := []byte{raw[0]}
	changed := false
	n := 0
	for dec.More() {
		var key string
		if isObject {
			tok, err := dec.Token()
			if err != nil {
				return nil, false, fmt.Errorf("invalid json: %w", err)
			}
			key, _ = tok.(string)
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, false, fmt.Errorf("invalid json: %w", err)
		}
		if isObject && key == faustMetaKey {
			changed = true
			continue
		}
		nv, ch, err := stripMeta(val, depth-1)
		if err != nil {
			return nil, false, err
		}
		changed = changed || ch
		if n > 0 {
			out = append(out, ',')
		}
		n++
		if isObject {
			out = jsonstr.Append(out, key)
			out = append(out, ':')
		}
		out = append(out, nv...)
	}
	if isObject {
		out = append(out, '}')
	} else {
		out = append(out, ']')
	}
	if !changed {
		return raw, false, nil
	}
	return out, true, nil
}
