package codec

// This file stands in until the schema framework (branch sr) brings its own
// FieldError, the same type; delete it when merging that.

// FieldError is input that does not fit its schema. Path names the field
// from the root, as in items[2].price; it is empty when the whole value is
// wrong.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}
