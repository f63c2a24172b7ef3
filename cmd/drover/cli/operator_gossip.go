package cli

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/spf13/cobra"
)

// operator gossip: the servers' gossip encryption key. Only generate is
// local; the keyring of a running cluster is fixed by server.encrypt.

// gossipKeyBytes is the length of a generated key: AES-256.
const gossipKeyBytes = 32

func newOperatorGossipCommand(s *streams) *cobra.Command {
	keyring := group("keyring", "Manage gossip encryption keys", "  drover operator gossip keyring generate",
		newGossipKeyringGenerateCommand(s, "generate"))
	keyring.Long = "Commands about the keys gossip is encrypted with. Drover has \"generate\": the\n" +
		"key of a cluster is set by server.encrypt in every server's configuration."
	c := group("gossip", "Manage the servers' gossip encryption key",
		"  drover operator gossip keyring generate", keyring)
	c.Long = "Servers gossip with each other to find their peers. With server { encrypt = \"<key>\" }\n" +
		"every gossip message is encrypted, and a server with another key cannot join."
	return c
}

// newGossipKeyringGenerateCommand prints a new key. It is also the hidden
// "operator keygen" of older releases.
func newGossipKeyringGenerateCommand(s *streams, use string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: "Generate a new gossip encryption key",
		Long: "Prints a new random 32-byte gossip encryption key, base64 encoded, for the\n" +
			"encrypt option of every server's server block:\n\n" +
			"  server {\n    encrypt = \"<key>\"\n  }",
		Example: "  drover operator gossip keyring generate",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return &usageError{cmd: c, msg: "This command takes no arguments"}
			}
			key := make([]byte, gossipKeyBytes)
			if _, err := rand.Read(key); err != nil {
				return fail(1, "Error reading random data: %v", err)
			}
			fmt.Fprintln(s.Out, base64.StdEncoding.EncodeToString(key))
			return nil
		},
	}
}
