package cmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/streamctl/streamctl/codec"
	"github.com/streamctl/streamctl/internal/registry"
	"github.com/urfave/cli/v2"
)

// registryFlags are the global flags that say where the schema registry is.
func registryFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "schema-registry", EnvVars: envVars("schema-registry"),
			Usage: "Confluent-compatible schema registry `URL` for -s avro|protobuf|jsonschema|sr (schemas are cached for the run; each request is bounded by --connect-timeout)"},
		&cli.StringFlag{Name: "schema-registry-user", EnvVars: envVars("schema-registry-user"),
			Usage: "schema registry basic auth user (a Confluent Cloud API key)"},
		&cli.StringFlag{Name: "schema-registry-password", EnvVars: envVars("schema-registry-password"),
			Usage: "schema registry basic auth password (an API secret; best given as STREAMCTL_SCHEMA_REGISTRY_PASSWORD; never printed)"},
		&cli.StringFlag{Name: "schema-registry-tls-ca", EnvVars: envVars("schema-registry-tls-ca"),
			Usage: "PEM `FILE` of CAs to trust for an https schema registry instead of the system's"},
	}
}

// avroJSONFlag is shared by consume and produce.
func avroJSONFlag() cli.Flag {
	return &cli.StringFlag{Name: "avro-json", Value: "plain", EnvVars: envVars("avro-json"),
		Usage: "Avro values as JSON, `FORM`: plain (bare unions, bytes as base64, readable timestamps, dates and decimals) or avro (the Avro specification's JSON encoding: tagged unions, bytes as code points, logical types as numbers)"}
}

// produceSchemaFlags choose the schema produce writes with.
func produceSchemaFlags() []cli.Flag {
	var flags []cli.Flag
	for _, side := range []string{"value", "key"} {
		flags = append(flags,
			&cli.IntFlag{Name: side + "-schema-id", EnvVars: envVars(side + "-schema-id"),
				Usage:       "encode " + side + "s with the registry's schema `N`",
				DefaultText: "the latest version of the subject --subject-strategy names, <topic>-" + side},
			&cli.StringFlag{Name: side + "-subject", EnvVars: envVars(side + "-subject"),
				Usage: "encode " + side + "s with the latest version of subject `S`, or version V with S@V"},
			&cli.StringFlag{Name: side + "-schema", EnvVars: envVars(side + "-schema"),
				Usage: "encode " + side + "s with the schema in `FILE` (.avsc, .proto or .json), looked up in the registry under the strategy's subject (or registered, with --register)"},
			&cli.StringFlag{Name: protoFlag(side), EnvVars: envVars(protoFlag(side)),
				Usage: "the fully qualified Protobuf message `NAME` for " + side + "s, where the schema has several"},
		)
	}
	return append(flags,
		&cli.StringFlag{Name: "subject-strategy", Value: "topic", EnvVars: envVars("subject-strategy"),
			Usage: "how subjects are named, `STRATEGY`: topic (<topic>-value, <topic>-key), record (the record's full name) or topic-record (<topic>-<full name>); record names come from --value-schema/--key-schema"},
		&cli.BoolFlag{Name: "register", EnvVars: envVars("register"),
			Usage: "register --value-schema/--key-schema under its subject when the registry does not have it yet"},
		avroJSONFlag(),
	)
}

func protoFlag(side string) string {
	if side == "value" {
		return "proto-message"
	}
	return "key-proto-message"
}

// schemaSetup builds the registry client once for the codecs of a run.
type schemaSetup struct {
	c   *cli.Context
	reg *registry.Client
}

// close lets the registry's idle connections go.
func (s *schemaSetup) close() {
	if s.reg != nil {
		s.reg.Close()
	}
}

func (s *schemaSetup) registry() (*registry.Client, error) {
	if s.reg != nil {
		return s.reg, nil
	}
	c := s.c
	url := c.String("schema-registry")
	if url == "" {
		return nil, codec.ErrNoRegistry
	}
	reg, err := registry.New(c.Context, registry.Config{
		URL:      url,
		User:     c.String("schema-registry-user"),
		Password: c.String("schema-registry-password"),
		CAFile:   c.String("schema-registry-tls-ca"),
		Timeout:  c.Duration("connect-timeout"),
	})
	if err != nil {
		return nil, usagef("--schema-registry: %v", err)
	}
	s.reg = reg
	return reg, nil
}

// chain parses a codec spec for one side (key or value) of topic; on
// produce, the schema flags of that side choose the writer schema.
func (s *schemaSetup) chain(flag, spec, topic string, key, produce bool) (*codec.Chain, error) {
	c := s.c
	cfg := &codec.SchemaConfig{Topic: topic, Key: key}
	switch m := c.String("avro-json"); m {
	case "plain", "":
	case "avro":
		cfg.AvroJSON = codec.AvroNative
	default:
		return nil, usagef("--avro-json %q: want plain or avro", m)
	}
	ch, err := codec.ParseSchema(spec, cfg)
	if err != nil {
		return nil, usagef("%s: %v", flag, err)
	}
	side := "value"
	if key {
		side = "key"
	}
	if produce {
		if err := s.writerFlags(cfg, side, ch.Schema()); err != nil {
			return nil, err
		}
	}
	if !ch.Schema() {
		return ch, nil
	}
	reg, err := s.registry()
	if errors.Is(err, codec.ErrNoRegistry) {
		return nil, withHint(usagef("%s %s needs a schema registry", flag, spec),
			"give its URL with --schema-registry URL or STREAMCTL_SCHEMA_REGISTRY (streamctl broker --registry 127.0.0.1:8081 serves one for trying)")
	}
	if err != nil {
		return nil, err
	}
	cfg.Registry = reg
	return ch, nil
}

// writerFlags reads the schema choice of one side into cfg.
func (s *schemaSetup) writerFlags(cfg *codec.SchemaConfig, side string, schema bool) error {
	c := s.c
	given := []string{}
	for _, f := range []string{side + "-schema-id", side + "-subject", side + "-schema", protoFlag(side)} {
		if c.IsSet(f) {
			given = append(given, "--"+f)
		}
	}
	if !schema {
		if len(given) > 0 {
			sflag := "-s"
			if side == "key" {
				sflag = "--key-serializer"
			}
			return usagef("%s chooses a schema, which only the schema codecs use: add %s avro, protobuf, jsonschema or sr", given[0], sflag)
		}
		return nil
	}
	var err error
	if cfg.Strategy, err = codec.ParseStrategy(c.String("subject-strategy")); err != nil {
		return usagef("--subject-strategy: %v", err)
	}
	cfg.ProtoMessage = c.String(protoFlag(side))
	n := 0
	if c.IsSet(side + "-schema-id") {
		n++
		if cfg.ID = c.Int(side + "-schema-id"); cfg.ID <= 0 {
			return usagef("--%s-schema-id %d: want a schema id, 1 or more", side, cfg.ID)
		}
	}
	if c.IsSet(side + "-subject") {
		n++
		if cfg.Subject, cfg.Version, err = codec.ParseSubjectVersion(c.String(side + "-subject")); err != nil || cfg.Subject == "" {
			if err == nil {
				err = errors.New("empty subject")
			}
			return usagef("--%s-subject: %v (want SUBJECT or SUBJECT@VERSION)", side, err)
		}
	}
	if c.IsSet(side + "-schema") {
		n++
		path := c.String(side + "-schema")
		text, err := os.ReadFile(path)
		if err != nil {
			return usagef("--%s-schema: %v", side, err)
		}
		t, err := schemaFileType(path)
		if err != nil {
			return usagef("--%s-schema: %v", side, err)
		}
		cfg.Local = &codec.Schema{Type: t, Text: string(text)}
		if t == codec.Protobuf {
			if cfg.Local.References, cfg.LocalRefs, err = localProtoImports(path, string(text)); err != nil {
				return usagef("--%s-schema: %v", side, err)
			}
		}
		cfg.Register = c.Bool("register")
	}
	if n > 1 {
		return usagef("--%s-schema-id, --%s-subject and --%s-schema each choose the schema: give one", side, side, side)
	}
	if cfg.Local == nil && cfg.Strategy != codec.TopicName && cfg.ID == 0 && cfg.Subject == "" {
		return usagef("--subject-strategy %s names the subject after the record, whose name comes from a schema file: add --%s-schema FILE", c.String("subject-strategy"), side)
	}
	return nil
}

// writerChosen says whether a flag chose the writer schema of side.
func (s *schemaSetup) writerChosen(side string) bool {
	for _, f := range []string{side + "-schema-id", side + "-subject", side + "-schema"} {
		if s.c.IsSet(f) {
			return true
		}
	}
	return false
}

// schemaFileType tells a schema file's type from its name.
func schemaFileType(path string) (codec.SchemaType, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".avsc", ".avro":
		return codec.Avro, nil
	case ".proto":
		return codec.Protobuf, nil
	case ".json":
		return codec.JSONSchema, nil
	}
	return "", fmt.Errorf("%s: cannot tell the schema type (want a name ending in .avsc, .proto or .json)", path)
}

// explainSchemaError adds the fix to the errors of choosing a writer
// schema, which Prepare reports before any input is read.
func explainSchemaError(err error, side string) error {
	var se *codec.SchemaError
	var tm *codec.TypeMismatchError
	var lse *codec.LocalSchemaError
	var pm *codec.ProtoMessageError
	switch {
	case errors.As(err, &lse) && !lse.Register && errors.Is(err, codec.ErrNotFound):
		return withHint(err, "register it with --register, or choose a registered one with --%s-schema-id or --%s-subject", side, side)
	case errors.As(err, &tm):
		return withHint(err, "-s sr takes whatever type the registry says")
	case errors.As(err, &pm) && len(pm.Names) > 0:
		return withHint(err, "choose one with --%s NAME, by its fully qualified name", protoFlag(side))
	case errors.As(err, &se) && errors.Is(err, codec.ErrNotFound) && strings.HasPrefix(se.What, "subject"):
		return withHint(err, "register a schema there first (--%s-schema FILE --register does), or choose one with --%s-schema-id or --%s-subject", side, side, side)
	}
	return err
}
