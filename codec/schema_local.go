package codec

import "fmt"

// A local schema file may import others (Protobuf imports, read from
// beside it). A registry holds each imported file under a subject of its
// own, named after the import, as Confluent's serializers register them;
// the local schema's references then name those subjects.

// compileLocal compiles the local schema s against the files it imports,
// which come from cfg.LocalRefs rather than the registry: they may not be
// registered yet.
func (c *schemaCodec) compileLocal(s Schema) (compiled, error) {
	if len(c.cfg.LocalRefs) == 0 {
		return c.compile(s)
	}
	f, ok := formats[s.Type]
	if !ok {
		return nil, fmt.Errorf("%s schemas are not supported", schemaTypeName(s.Type))
	}
	return f.compile(s, c.cfg.LocalRefs, c.cfg)
}

// localReferences looks up, or with Register registers, each of
// cfg.LocalRefs under the subject its name gives, dependencies first, and
// returns refs, the local schema's own references, with the versions the
// registry gave.
func (c *schemaCodec) localReferences(refs []Reference) ([]Reference, error) {
	cfg := c.cfg
	if len(cfg.LocalRefs) == 0 {
		return refs, nil
	}
	versions := make(map[string]int, len(cfg.LocalRefs))
	for _, r := range cfg.LocalRefs {
		s := r.Schema
		s.References = withVersions(s.References, versions)
		var ss SubjectSchema
		var err error
		if cfg.Register {
			ss, err = cfg.Registry.RegisterSchema(r.Name, s)
		} else {
			ss, err = cfg.Registry.LookupSchema(r.Name, s)
		}
		if err != nil {
			return nil, &SchemaError{What: fmt.Sprintf("subject %q, which the local schema imports", r.Name), Err: &LocalSchemaError{Register: cfg.Register, Err: err}}
		}
		versions[r.Name] = ss.Version
	}
	return withVersions(refs, versions), nil
}

// withVersions returns refs, each at the version versions gives its name.
func withVersions(refs []Reference, versions map[string]int) []Reference {
	out := make([]Reference, len(refs))
	for i, r := range refs {
		r.Subject = r.Name
		r.Version = versions[r.Name]
		out[i] = r
	}
	return out
}
