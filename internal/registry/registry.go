// Package registry is a Confluent-compatible schema registry client for
// the schema codecs: it implements codec.Registry with franz-go's sr client,
// bounds every request, and caches what it fetched for the rest of the run.
package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/streamctl/streamctl/codec"
	"github.com/twmb/franz-go/pkg/sr"
)

// Config says where the registry is and how to reach it.
type Config struct {
	URL            string
	User, Password string
	// CAFile is a PEM file of CAs to trust instead of the system's.
	CAFile string
	// Timeout bounds each request, connecting included (0: 10s).
	Timeout time.Duration
}

// Client is a codec.Registry with a per-run cache. It is safe for
// concurrent use.
type Client struct {
	ctx     context.Context
	cl      *sr.Client
	hc      *http.Client
	url     string
	timeout time.Duration

	mu        sync.Mutex
	byID      map[int]codec.Schema
	byVersion map[string]codec.SubjectSchema // "subject@version"; latest under @-1
}

var _ codec.GUIDRegistry = (*Client)(nil)

// New returns a client for cfg. Requests end when ctx does.
func New(ctx context.Context, cfg Config) (*Client, error) {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	addr := strings.TrimRight(cfg.URL, "/")
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	shown := addr // for messages: never the password of user:pass@host
	if u, err := url.Parse(addr); err == nil {
		shown = u.Redacted()
	}
	hc := &http.Client{Transport: tr, Timeout: timeout}
	opts := []sr.ClientOpt{
		sr.URLs(addr),
		sr.HTTPClient(hc),
		sr.UserAgent("streamctl"),
	}
	if cfg.User != "" || cfg.Password != "" {
		opts = append(opts, sr.BasicAuth(cfg.User, cfg.Password))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry %s: %w", shown, err)
	}
	return &Client{
		ctx: ctx, cl: cl, hc: hc, url: shown, timeout: timeout,
		byID: map[int]codec.Schema{}, byVersion: map[string]codec.SubjectSchema{},
	}, nil
}

// Close lets idle connections go.
func (c *Client) Close() {
	c.hc.CloseIdleConnections()
}

// Error is a request the registry did not answer, or answered with an
// error. Unwrap gives codec.ErrNotFound for a 404, and
// codec.ErrRegistryFailed for no answer, a server error or refused
// credentials.
type Error struct {
	URL  string
	Err  error
	Code int // the HTTP status, 0 without an answer
}

func (e *Error) Error() string {
	if e.Code == 0 {
		return fmt.Sprintf("schema registry %s: %v", e.URL, e.Err)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() []error {
	switch {
	case e.Code == http.StatusNotFound:
		return []error{e.Err, codec.ErrNotFound}
	case e.Code == 0, e.Code >= 500, e.Code == http.StatusUnauthorized, e.Code == http.StatusForbidden:
		return []error{e.Err, codec.ErrRegistryFailed}
	}
	return []error{e.Err}
}

func (c *Client) wrap(err error) error {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		msg := re.Message
		if msg == "" {
			msg = strings.TrimSpace(string(re.Raw))
		}
		if msg == "" {
			msg = http.StatusText(re.StatusCode)
		}
		return &Error{URL: c.url, Code: re.StatusCode, Err: errors.New(msg)}
	}
	if errors.Is(err, context.DeadlineExceeded) && c.ctx.Err() == nil {
		err = fmt.Errorf("no answer within %s", c.timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // it repeats the whole URL
		if ue.Timeout() && c.ctx.Err() == nil {
			err = fmt.Errorf("no answer within %s", c.timeout)
		}
	}
	return &Error{URL: c.url, Err: err}
}

func (c *Client) call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, c.timeout)
}

// SchemaByID returns the schema with the given id.
func (c *Client) SchemaByID(id int) (codec.Schema, error) {
	c.mu.Lock()
	s, ok := c.byID[id]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	ctx, cancel := c.call()
	defer cancel()
	got, err := c.cl.SchemaByID(ctx, id)
	if err != nil {
		return codec.Schema{}, c.wrap(err)
	}
	s = fromSR(got)
	c.mu.Lock()
	c.byID[id] = s
	c.mu.Unlock()
	return s, nil
}

// SchemaByVersion returns subject's schema at version (-1: the latest, as
// it was the first time this run asked).
func (c *Client) SchemaByVersion(subject string, version int) (codec.SubjectSchema, error) {
	key := fmt.Sprintf("%s@%d", subject, version)
	c.mu.Lock()
	ss, ok := c.byVersion[key]
	c.mu.Unlock()
	if ok {
		return ss, nil
	}
	ctx, cancel := c.call()
	defer cancel()
	got, err := c.cl.SchemaByVersion(ctx, subject, version)
	if err != nil {
		return codec.SubjectSchema{}, c.wrap(err)
	}
	ss = subjectFromSR(got)
	c.keep(key, ss)
	return ss, nil
}

// SchemaByGUID returns the schema with the given GUID (Confluent
// Platform 8), with the numeric id it has in the default context.
func (c *Client) SchemaByGUID(guid string) (codec.SubjectSchema, error) {
	key := "guid:" + guid
	c.mu.Lock()
	ss, ok := c.byVersion[key]
	c.mu.Unlock()
	if ok {
		return ss, nil
	}
	ctx, cancel := c.call()
	defer cancel()
	got, err := c.cl.SchemaByGUID(ctx, guid)
	if err != nil {
		return codec.SubjectSchema{}, c.wrap(err)
	}
	ss = subjectFromSR(got)
	c.keep(key, ss)
	return ss, nil
}

// LookupSchema finds s among subject's versions.
func (c *Client) LookupSchema(subject string, s codec.Schema) (codec.SubjectSchema, error) {
	ctx, cancel := c.call()
	defer cancel()
	got, err := c.cl.LookupSchema(ctx, subject, toSR(s))
	if err != nil {
		return codec.SubjectSchema{}, c.wrap(err)
	}
	ss := subjectFromSR(got)
	if ss.Text == "" {
		ss.Schema = s
	}
	c.keep(fmt.Sprintf("%s@%d", subject, ss.Version), ss)
	return ss, nil
}

// RegisterSchema registers s under subject, or finds it there.
func (c *Client) RegisterSchema(subject string, s codec.Schema) (codec.SubjectSchema, error) {
	ctx, cancel := c.call()
	defer cancel()
	got, err := c.cl.CreateSchema(ctx, subject, toSR(s))
	if err != nil {
		return codec.SubjectSchema{}, c.wrap(err)
	}
	ss := subjectFromSR(got)
	if ss.Text == "" {
		ss.Schema = s
	}
	if ss.Subject == "" {
		ss.Subject = subject
	}
	c.keep(fmt.Sprintf("%s@%d", subject, ss.Version), ss)
	return ss, nil
}

func (c *Client) keep(key string, ss codec.SubjectSchema) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byVersion[key] = ss
	if ss.ID > 0 {
		c.byID[ss.ID] = ss.Schema
	}
}

func fromSR(s sr.Schema) codec.Schema {
	out := codec.Schema{Type: codec.SchemaType(strings.ToUpper(s.Type.String())), Text: s.Schema}
	if s.Type == sr.TypeAvro {
		out.Type = codec.Avro
	}
	for _, r := range s.References {
		out.References = append(out.References, codec.Reference{Name: r.Name, Subject: r.Subject, Version: r.Version})
	}
	return out
}

func subjectFromSR(s sr.SubjectSchema) codec.SubjectSchema {
	return codec.SubjectSchema{Subject: s.Subject, Version: s.Version, ID: s.ID, Schema: fromSR(s.Schema)}
}

func toSR(s codec.Schema) sr.Schema {
	out := sr.Schema{Schema: s.Text}
	switch s.Type {
	case codec.Protobuf:
		out.Type = sr.TypeProtobuf
	case codec.JSONSchema:
		out.Type = sr.TypeJSON
	default:
		out.Type = sr.TypeAvro
	}
	for _, r := range s.References {
		out.References = append(out.References, sr.SchemaReference{Name: r.Name, Subject: r.Subject, Version: r.Version})
	}
	return out
}
