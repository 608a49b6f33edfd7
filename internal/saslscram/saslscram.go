// Package saslscram gives sarama the SCRAM client it asks for, on top of
// xdg-go/scram.
package saslscram

import (
	"crypto/sha256"
	"crypto/sha512"
	"hash"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"
)

// SHA256 and SHA512 generate clients for SCRAM-SHA-256 and SCRAM-SHA-512,
// as sarama's Net.SASL.SCRAMClientGeneratorFunc wants them.
var (
	SHA256 = func() sarama.SCRAMClient { return &client{hash: sha256.New} }
	SHA512 = func() sarama.SCRAMClient { return &client{hash: sha512.New} }
)

// client adapts one xdg-go/scram conversation to sarama.SCRAMClient.
type client struct {
	hash func() hash.Hash
	conv *scram.ClientConversation
}

var _ sarama.SCRAMClient = (*client)(nil)

func (c *client) Begin(user, pass, authzID string) error {
	sc, err := scram.HashGeneratorFcn(c.hash).NewClient(user, pass, authzID)
	if err != nil {
		return err
	}
	c.conv = sc.NewConversation()
	return nil
}

func (c *client) Step(challenge string) (string, error) { return c.conv.Step(challenge) }
func (c *client) Done() bool                            { return c.conv.Done() }
