package cmd

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/urfave/cli/v2"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// oauthFlags configure SASL/OAUTHBEARER: a static token, or the OIDC
// client-credentials flow.
func oauthFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "sasl-oauth-token", EnvVars: envVars("sasl-oauth-token"),
			Usage: "OAUTHBEARER: the access token to send (best given as its -file or -command)"},
		&cli.StringFlag{Name: "sasl-oauth-token-url", EnvVars: envVars("sasl-oauth-token-url"),
			Usage: "OAUTHBEARER: the OIDC token endpoint `URL` for the client-credentials flow"},
		&cli.StringFlag{Name: "sasl-oauth-client-id", EnvVars: envVars("sasl-oauth-client-id"),
			Usage: "OAUTHBEARER: the client id for --sasl-oauth-token-url"},
		&cli.StringFlag{Name: "sasl-oauth-client-secret", EnvVars: envVars("sasl-oauth-client-secret"),
			Usage: "OAUTHBEARER: the client secret for --sasl-oauth-token-url"},
		&cli.StringFlag{Name: "sasl-oauth-scope", EnvVars: envVars("sasl-oauth-scope"),
			Usage: "OAUTHBEARER: the scopes to ask --sasl-oauth-token-url for, `SCOPE,...`"},
	}
}

// tokenRefreshAhead is how long before its expiry a token is replaced, so
// that a connection or re-authentication never sends one about to lapse.
const tokenRefreshAhead = time.Minute

// tokenTimeout bounds one request to the token endpoint.
const tokenTimeout = 10 * time.Second

// oauthConfig sets up OAUTHBEARER from the flags.
func oauthConfig(c *cli.Context, conf *sarama.Config) error {
	token, url := c.String("sasl-oauth-token"), c.String("sasl-oauth-token-url")
	switch {
	case token != "" && url != "":
		return usagef("--sasl-oauth-token and --sasl-oauth-token-url: give one of them")
	case token == "" && url == "":
		return usagef("--sasl-mechanism OAUTHBEARER needs --sasl-oauth-token (or its -file/-command) or --sasl-oauth-token-url")
	}
	conf.Net.SASL.Enable = true
	conf.Net.SASL.Handshake = true
	conf.Net.SASL.Mechanism = sarama.SASLTypeOAuth
	if token != "" {
		conf.Net.SASL.TokenProvider = staticToken(token)
		return nil
	}
	id, secret := c.String("sasl-oauth-client-id"), c.String("sasl-oauth-client-secret")
	if id == "" || secret == "" {
		return usagef("--sasl-oauth-token-url needs --sasl-oauth-client-id and --sasl-oauth-client-secret")
	}
	conf.Net.SASL.TokenProvider = newOIDCToken(c.Context, clientcredentials.Config{
		ClientID: id, ClientSecret: secret, TokenURL: url, Scopes: splitList(c.String("sasl-oauth-scope")),
	})
	return nil
}

// staticToken is a token given once.
type staticToken string

func (t staticToken) Token() (*sarama.AccessToken, error) {
	return &sarama.AccessToken{Token: string(t)}, nil
}

// oidcToken fetches tokens with the client-credentials flow, reuses one
// until tokenRefreshAhead before it expires, then fetches the next.
type oidcToken struct{ src oauth2.TokenSource }

var _ sarama.AccessTokenProvider = (*oidcToken)(nil)

func newOIDCToken(ctx context.Context, cc clientcredentials.Config) *oidcToken {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Timeout: tokenTimeout})
	return &oidcToken{src: oauth2.ReuseTokenSourceWithExpiry(nil, cc.TokenSource(ctx), tokenRefreshAhead)}
}

func (o *oidcToken) Token() (*sarama.AccessToken, error) {
	t, err := o.src.Token()
	if err != nil {
		return nil, fmt.Errorf("fetching an OAUTHBEARER token: %w", err)
	}
	return &sarama.AccessToken{Token: strings.TrimSpace(t.AccessToken)}, nil
}
