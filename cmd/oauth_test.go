package cmd

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamctl/streamctl/internal/kafkatest"
	"golang.org/x/oauth2/clientcredentials"
)

// tokenEndpoint is a small OIDC token endpoint for the client-credentials
// flow: it checks the client and hands out numbered tokens that expire
// after expiresIn seconds.
type tokenEndpoint struct {
	mu        sync.Mutex
	issued    int
	expiresIn int
	scope     string
}

func (e *tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if err := r.ParseForm(); err != nil || !ok || id != "cid" || secret != "csecret" || r.Form.Get("grant_type") != "client_credentials" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	e.mu.Lock()
	e.issued++
	n := e.issued
	e.scope = r.Form.Get("scope")
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": "token-" + string(rune('0'+n)), "token_type": "bearer", "expires_in": e.expiresIn,
	})
}

func TestOIDCTokenReusesThenRefreshes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		expiresIn int // seconds
		want      []string
	}{
		// An hour: one token serves every connection.
		{"long-lived", 3600, []string{"token-1", "token-1", "token-1"}},
		// Inside the refresh margin: each use gets a fresh one.
		{"about to expire", 30, []string{"token-1", "token-2", "token-3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &tokenEndpoint{expiresIn: tc.expiresIn}
			srv := httptest.NewServer(e)
			t.Cleanup(srv.Close)
			p := newOIDCToken(context.Background(), clientcredentials.Config{
				ClientID: "cid", ClientSecret: "csecret", TokenURL: srv.URL, Scopes: []string{"kafka", "read"},
			})
			var got []string
			for range tc.want {
				tok, err := p.Token()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, tok.Token)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("tokens %q, want %q", got, tc.want)
			}
			if e.scope != "kafka read" {
				t.Errorf("scope %q, want %q", e.scope, "kafka read")
			}
		})
	}
	t.Run("bad client", func(t *testing.T) {
		srv := httptest.NewServer(&tokenEndpoint{expiresIn: 60})
		t.Cleanup(srv.Close)
		p := newOIDCToken(context.Background(), clientcredentials.Config{ClientID: "cid", ClientSecret: "wrong", TokenURL: srv.URL})
		if _, err := p.Token(); err == nil || !strings.Contains(err.Error(), "fetching an OAUTHBEARER token") {
			t.Errorf("err = %v, want one about fetching the token", err)
		}
	})
}

func TestOAuthUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "needs --sasl-oauth-token"},
		{[]string{"--sasl-oauth-token", "t", "--sasl-oauth-token-url", "http://127.0.0.1:1/token"}, "give one of them"},
		{[]string{"--sasl-oauth-token-url", "http://127.0.0.1:1/token"}, "needs --sasl-oauth-client-id and --sasl-oauth-client-secret"},
	} {
		args := append([]string{"--sasl-mechanism", "OAUTHBEARER", "-b", "127.0.0.1:1"}, tc.args...)
		r := run(t, "", append(args, "consume", "t", "-e")...)
		if r.Code != ExitUsage || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, r.Code, r.Stderr, tc.want)
		}
	}
}

// unsecuredJWT is a token for Kafka's unsecured-JWT OAUTHBEARER mode: no
// signature, a subject and an expiry.
func unsecuredJWT(sub string) string {
	enc := base64.RawURLEncoding.EncodeToString
	now := time.Now().Unix()
	claims, _ := json.Marshal(map[string]any{"sub": sub, "iat": now, "exp": now + 3600})
	return enc([]byte(`{"alg":"none"}`)) + "." + enc(claims) + "."
}

// TestOAuthBearerRealKafka logs in to the real broker's OAUTHBEARER
// mechanism (unsecured-JWT mode, scripts/kafka/start.sh) with a static
// token from a command and with tokens from an in-test client-credentials
// endpoint; it skips without the real tier.
func TestOAuthBearerRealKafka(t *testing.T) {
	l := kafkatest.RealSASL(t)
	topic := l.Seed(t, "via-oauth")
	base := []string{"-b", l.Addr, "--sasl-mechanism", "OAUTHBEARER", "--connect-timeout", connectTimeout}
	t.Run("static token", func(t *testing.T) {
		r := mustRun(t, 0, "", append(base, "--sasl-oauth-token-command", "printf '%s\\n' "+unsecuredJWT(l.User), "consume", topic, "-e")...)
		if r.Stdout != "via-oauth\n" {
			t.Errorf("stdout %q", r.Stdout)
		}
	})
	t.Run("client credentials", func(t *testing.T) {
		var mu sync.Mutex
		issued := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id, secret, ok := r.BasicAuth(); !ok || id != "cid" || secret != "csecret" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			mu.Lock()
			issued++
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": unsecuredJWT(l.User), "token_type": "bearer", "expires_in": 3600})
		}))
		t.Cleanup(srv.Close)
		r := mustRun(t, 0, "", append(base, "--sasl-oauth-token-url", srv.URL, "--sasl-oauth-client-id", "cid",
			"--sasl-oauth-client-secret", "csecret", "consume", topic, "-e")...)
		if r.Stdout != "via-oauth\n" {
			t.Errorf("stdout %q", r.Stdout)
		}
		mu.Lock()
		defer mu.Unlock()
		if issued != 1 {
			t.Errorf("the endpoint issued %d tokens for one run, want 1 (reused across connections)", issued)
		}
	})
	t.Run("expired token", func(t *testing.T) {
		enc := base64.RawURLEncoding.EncodeToString
		claims, _ := json.Marshal(map[string]any{"sub": l.User, "iat": 1, "exp": 2})
		r := run(t, "", append(base, "--sasl-oauth-token", enc([]byte(`{"alg":"none"}`))+"."+enc(claims)+".", "consume", topic, "-e")...)
		if r.Code != ExitError || !strings.Contains(r.Stderr, "SASL authentication as the token's subject (OAUTHBEARER) failed") ||
			!strings.Contains(r.Stderr, "hint: check the token") {
			t.Errorf("exit %d, want 1 naming the token; stderr %s", r.Code, r.Stderr)
		}
	})
}
