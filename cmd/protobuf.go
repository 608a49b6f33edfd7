package cmd

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/streamctl/streamctl/codec"
)

// localProtoImports reads the files a local .proto schema imports, and
// those they import, from the directory it is in (the import root, as with
// protoc -I DIR). It returns the schema's references and the imported
// files, each before those that import it. Files streamctl ships, such as
// google/protobuf/timestamp.proto, are not read. A schema that does not
// parse gives no imports here: compiling it says what is wrong.
func localProtoImports(path, text string) ([]codec.Reference, []codec.NamedSchema, error) {
	dir := filepath.Dir(path)
	var files []codec.NamedSchema
	seen := map[string]bool{}
	var visit func(name, text string) ([]codec.Reference, error)
	visit = func(name, text string) ([]codec.Reference, error) {
		imports, err := codec.ProtoImports(name, text)
		if err != nil {
			return nil, nil
		}
		var refs []codec.Reference
		for _, imp := range imports {
			refs = append(refs, codec.Reference{Name: imp, Subject: imp})
			if seen[imp] {
				continue
			}
			seen[imp] = true
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(imp)))
			if err != nil {
				return nil, fmt.Errorf("%s imports %q, which is not beside it: %w", name, imp, err)
			}
			sub, err := visit(imp, string(b))
			if err != nil {
				return nil, err
			}
			files = append(files, codec.NamedSchema{Name: imp, Schema: codec.Schema{Type: codec.Protobuf, Text: string(b), References: sub}})
		}
		return refs, nil
	}
	refs, err := visit(filepath.Base(path), text)
	return refs, files, err
}
