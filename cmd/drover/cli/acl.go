package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"

	"drover/agent/acl"
)

// acl: bootstrap access control, and manage its policies and tokens.

func newACLCommand(s *streams) *cobra.Command {
	c := group("acl", "Manage access control: bootstrap, policies and tokens",
		"  drover acl bootstrap\n  drover acl policy apply -description \"read only\" readonly readonly.hcl\n"+
			"  drover acl token create -name alice -policy readonly",
		newACLBootstrapCommand(s),
		newACLPolicyCommand(s),
		newACLTokenCommand(s),
	)
	c.Long = "With acl { enabled = true } in the agents' configuration, every request must\n" +
		"carry a token (-token or NOMAD_TOKEN) whose policies allow it. acl bootstrap\n" +
		"creates the first management token, once."
	return c
}

// readInput reads a file, or standard input for "-".
func (s *streams) readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(s.stdin())
	}
	return os.ReadFile(path)
}

func newACLBootstrapCommand(s *streams) *cobra.Command {
	var out outputFlags
	c := &cobra.Command{
		Use:   "bootstrap [path]",
		Short: "Bootstrap the ACL system and print the initial management token",
		Long: "Creates the first management token. It works once per cluster; a second\n" +
			"call is refused with the index at which the first happened. With a path (or\n" +
			"\"-\" for standard input), the token's secret is the UUID read from it.",
		Example: "  drover acl bootstrap\n  drover acl bootstrap root.token",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &usageError{cmd: c, msg: "This command takes up to one argument"}
			}
			if err := out.check(); err != nil {
				return err
			}
			secret := ""
			if len(args) == 1 {
				raw, err := s.readInput(args[0])
				if err != nil {
					return fail(1, "Error reading provided token: %v", err)
				}
				secret = strings.TrimSpace(string(raw))
			}
			return showACL(s, &out, "bootstrapping", func(c *api.Client) (*api.ACLToken, error) {
				tok, _, err := c.ACLTokens().BootstrapOpts(secret, nil)
				return tok, err
			}, formatACLToken)
		},
	}
	out.register(c, "the token")
	return c
}

// showACL asks the cluster for one ACL object (or list) and prints it: as
// -json or -t say, else as text formats it. doing names the request in
// its error, as in "Error fetching token: ...".
func showACL[T any](s *streams, out *outputFlags, doing string, get func(*api.Client) (T, error), text func(T) string) error {
	if err := out.check(); err != nil {
		return err
	}
	client, err := s.apiClient()
	if err != nil {
		return fail(1, "Error initializing client: %v", err)
	}
	v, err := get(client)
	if err != nil {
		return fail(1, "Error %s: %v", doing, err)
	}
	if out.active() {
		return out.print(s, v)
	}
	fmt.Fprintln(s.Out, text(v))
	return nil
}

// formatACLToken is the token's key/value block, as every token command
// prints it.
func formatACLToken(t *api.ACLToken) string {
	policies, roles := "n/a", "n/a"
	if t.Type != "management" {
		policies, roles = fmt.Sprint(t.Policies), ""
	}
	expiry := ""
	if t.ExpirationTime != nil {
		expiry = t.ExpirationTime.String()
	}
	return formatKV([]string{
		"Accessor ID|" + t.AccessorID,
		"Secret ID|" + t.SecretID,
		"Name|" + t.Name,
		"Type|" + t.Type,
		fmt.Sprintf("Global|%t", t.Global),
		"Create Time|" + t.CreateTime.String(),
		"Expiry Time|" + expiry,
		fmt.Sprintf("Create Index|%d", t.CreateIndex),
		fmt.Sprintf("Modify Index|%d", t.ModifyIndex),
		"Policies|" + policies,
		"Roles|" + roles,
	})
}

func newACLPolicyCommand(s *streams) *cobra.Command {
	c := group("policy", "Create, list, show and delete ACL policies",
		"  drover acl policy apply readonly readonly.hcl\n  drover acl policy list",
		newACLPolicyApplyCommand(s),
		newACLPolicyListCommand(s),
		newACLPolicyInfoCommand(s),
		newACLPolicyDeleteCommand(s),
	)
	c.Long = "A policy is a set of rules in the HCL policy language: namespace \"<glob>\" {\n" +
		"policy = \"read\" }, node, agent and operator blocks. Tokens carry policies by name."
	return c
}

func newACLPolicyApplyCommand(s *streams) *cobra.Command {
	var description string
	c := &cobra.Command{
		Use:   "apply [options] <name> <path>",
		Short: "Create or update an ACL policy",
		Long: "Writes the policy <name> with the rules in <path> (\"-\" for standard input).\n" +
			"The rules are checked here first, so a mistake is reported with its place in\n" +
			"your file.",
		Example: "  drover acl policy apply -description \"read only\" readonly readonly.hcl",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 2 {
				return &usageError{cmd: c, msg: "This command takes two arguments: <name> and <path>"}
			}
			name, path := args[0], args[1]
			rules, err := s.readInput(path)
			if err != nil {
				return fail(1, "Error reading policy file: %v", err)
			}
			file := path
			if path == "-" {
				file = "<stdin>"
			}
			if _, err := acl.Parse(file, rules); err != nil {
				return fail(1, "Error parsing ACL policy: %v", err)
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			if _, err := client.ACLPolicies().Upsert(&api.ACLPolicy{Name: name, Description: description, Rules: string(rules)}, nil); err != nil {
				return fail(1, "Error writing ACL policy: %v", err)
			}
			fmt.Fprintf(s.Out, "Successfully wrote %q ACL policy!\n", name)
			return nil
		},
	}
	c.Flags().StringVar(&description, "description", "", "a description of the policy")
	return c
}

func newACLPolicyListCommand(s *streams) *cobra.Command {
	var out outputFlags
	c := &cobra.Command{
		Use:     "list",
		Short:   "List ACL policies",
		Example: "  drover acl policy list",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return &usageError{cmd: c, msg: "This command takes no arguments"}
			}
			return showACL(s, &out, "fetching ACL policies", func(c *api.Client) ([]*api.ACLPolicyListStub, error) {
				policies, _, err := c.ACLPolicies().List(nil)
				return policies, err
			}, formatACLPolicies)
		},
	}
	out.register(c, "the policies")
	return c
}

func formatACLPolicies(policies []*api.ACLPolicyListStub) string {
	if len(policies) == 0 {
		return "No policies found"
	}
	rows := []string{"Name|Description"}
	for _, p := range policies {
		rows = append(rows, p.Name+"|"+p.Description)
	}
	return formatList(rows)
}

func newACLPolicyInfoCommand(s *streams) *cobra.Command {
	var out outputFlags
	c := &cobra.Command{
		Use:     "info <name>",
		Short:   "Show an ACL policy and its rules",
		Example: "  drover acl policy info readonly",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <name>"}
			}
			return showACL(s, &out, "fetching ACL policy", func(c *api.Client) (*api.ACLPolicy, error) {
				p, _, err := c.ACLPolicies().Info(args[0], nil)
				return p, err
			}, formatACLPolicy)
		},
	}
	out.register(c, "the policy")
	return c
}

// formatACLPolicy is a policy's key/value block, then its rules.
func formatACLPolicy(p *api.ACLPolicy) string {
	return formatKV([]string{
		"Name|" + p.Name,
		"Description|" + p.Description,
		fmt.Sprintf("CreateIndex|%d", p.CreateIndex),
		fmt.Sprintf("ModifyIndex|%d", p.ModifyIndex),
	}) + "\n\nRules\n\n" + strings.TrimRight(p.Rules, "\n")
}

func newACLPolicyDeleteCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:     "delete <name>",
		Short:   "Delete an ACL policy",
		Example: "  drover acl policy delete readonly",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <name>"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			if _, err := client.ACLPolicies().Delete(args[0], nil); err != nil {
				return fail(1, "Error deleting ACL policy: %v", err)
			}
			fmt.Fprintf(s.Out, "Successfully deleted %q ACL policy!\n", args[0])
			return nil
		},
	}
}

func newACLTokenCommand(s *streams) *cobra.Command {
	c := group("token", "Create, list, show and delete ACL tokens",
		"  drover acl token create -name alice -policy readonly\n  drover acl token self",
		newACLTokenCreateCommand(s),
		newACLTokenListCommand(s),
		newACLTokenInfoCommand(s),
		newACLTokenSelfCommand(s),
		newACLTokenDeleteCommand(s),
	)
	c.Long = "A token is an accessor ID (its public name) and a secret ID (what requests\n" +
		"present). A client token may do what its policies allow; a management token\n" +
		"may do everything."
	return c
}

func newACLTokenCreateCommand(s *streams) *cobra.Command {
	var (
		out      outputFlags
		name     string
		typ      string
		global   bool
		policies []string
		ttl      time.Duration
	)
	c := &cobra.Command{
		Use:   "create [options]",
		Short: "Create an ACL token",
		Long: "Creates a token and prints it, secret included: keep the secret, it is what\n" +
			"the token's holder gives as -token or NOMAD_TOKEN.",
		Example: "  drover acl token create -name alice -policy readonly -ttl 8h\n" +
			"  drover acl token create -name ops -type management",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return &usageError{cmd: c, msg: "This command takes no arguments"}
			}
			return showACL(s, &out, "creating token", func(c *api.Client) (*api.ACLToken, error) {
				tok, _, err := c.ACLTokens().Create(&api.ACLToken{Name: name, Type: typ, Global: global,
					Policies: policies, ExpirationTTL: ttl}, nil)
				return tok, err
			}, formatACLToken)
		},
	}
	c.Flags().StringVar(&name, "name", "", "a name for the token")
	c.Flags().StringVar(&typ, "type", "client", "client (its policies decide) or management (everything)")
	c.Flags().BoolVar(&global, "global", false, "mark the token global (Drover has one region: recorded only)")
	c.Flags().StringArrayVar(&policies, "policy", nil, "a policy the token carries (repeat for several; client tokens only)")
	c.Flags().DurationVar(&ttl, "ttl", 0, "how long the token lives, e.g. 8h (default: forever)")
	out.register(c, "the token")
	return c
}

func newACLTokenListCommand(s *streams) *cobra.Command {
	var out outputFlags
	c := &cobra.Command{
		Use:     "list",
		Short:   "List ACL tokens (management tokens only)",
		Example: "  drover acl token list",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return &usageError{cmd: c, msg: "This command takes no arguments"}
			}
			return showACL(s, &out, "fetching tokens", func(c *api.Client) ([]*api.ACLTokenListStub, error) {
				tokens, _, err := c.ACLTokens().List(nil)
				return tokens, err
			}, formatACLTokens)
		},
	}
	out.register(c, "the tokens")
	return c
}

func formatACLTokens(tokens []*api.ACLTokenListStub) string {
	if len(tokens) == 0 {
		return "No tokens found"
	}
	now := time.Now()
	rows := []string{"Name|Type|Global|Accessor ID|Expired"}
	for _, t := range tokens {
		expired := t.ExpirationTime != nil && !now.Before(*t.ExpirationTime)
		rows = append(rows, fmt.Sprintf("%s|%s|%t|%s|%t", t.Name, t.Type, t.Global, t.AccessorID, expired))
	}
	return formatList(rows)
}

func newACLTokenInfoCommand(s *streams) *cobra.Command {
	var out outputFlags
	c := &cobra.Command{
		Use:     "info <accessor_id>",
		Short:   "Show an ACL token",
		Example: "  drover acl token info 5b7fd453-d3f7-6814-81dc-fcfe6daedea5",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <accessor_id>"}
			}
			return showACL(s, &out, "fetching token", func(c *api.Client) (*api.ACLToken, error) {
				tok, _, err := c.ACLTokens().Info(args[0], nil)
				return tok, err
			}, formatACLToken)
		},
	}
	out.register(c, "the token")
	return c
}

func newACLTokenSelfCommand(s *streams) *cobra.Command {
	var out outputFlags
	c := &cobra.Command{
		Use:     "self",
		Short:   "Show the token this command runs with (-token or NOMAD_TOKEN)",
		Example: "  NOMAD_TOKEN=<secret> drover acl token self",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return &usageError{cmd: c, msg: "This command takes no arguments"}
			}
			return showACL(s, &out, "fetching self token", func(c *api.Client) (*api.ACLToken, error) {
				tok, _, err := c.ACLTokens().Self(nil)
				return tok, err
			}, formatACLToken)
		},
	}
	out.register(c, "the token")
	return c
}

func newACLTokenDeleteCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:     "delete <accessor_id>",
		Short:   "Delete an ACL token: every server refuses it from then on",
		Example: "  drover acl token delete 5b7fd453-d3f7-6814-81dc-fcfe6daedea5",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <accessor_id>"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			if _, err := client.ACLTokens().Delete(args[0], nil); err != nil {
				return fail(1, "Error deleting token: %v", err)
			}
			fmt.Fprintf(s.Out, "Token %s successfully deleted\n", args[0])
			return nil
		},
	}
}
