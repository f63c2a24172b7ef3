package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"drover/agent/tlsutil"
)

// tls: a lab certificate authority and the certificates of servers,
// clients and the CLI, written to the working directory under the file
// names the compatible CLI uses, so tutorials' tls blocks work unchanged.

func newTLSCommand(s *streams) *cobra.Command {
	c := group("tls", "Create a lab CA and certificates for TLS",
		"  drover tls ca create\n  drover tls cert create -server\n  drover tls cert create -client\n  drover tls cert create -cli",
		group("ca", "Create a certificate authority", "  drover tls ca create", newTLSCACreateCommand(s)),
		group("cert", "Create certificates signed by the CA", "  drover tls cert create -server -region global",
			newTLSCertCreateCommand(s)),
	)
	c.Long = "Helps set up TLS between agents: \"tls ca create\" makes a self-signed certificate\n" +
		"authority, \"tls cert create\" a certificate it signs for a server, a client or the\n" +
		"CLI. Copy them to the agents and point their tls block at them; this command does\n" +
		"not change any configuration."
	return c
}

func newTLSCACreateCommand(s *streams) *cobra.Command {
	var (
		days           int
		domain, cn     string
		nameConstraint bool
		extraDomains   []string
	)
	c := &cobra.Command{
		Use:   "create",
		Short: "Create a self-signed certificate authority",
		Long: "Creates a certificate authority for the cluster's TLS: <domain>-agent-ca.pem and\n" +
			"its key <domain>-agent-ca-key.pem in the working directory. Keep the key safe:\n" +
			"whoever has it can make certificates every agent trusts.",
		Example: "  drover tls ca create\n  drover tls ca create -days 365",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return &usageError{cmd: c, msg: "This command takes no arguments"}
			}
			if len(extraDomains) > 0 && !nameConstraint {
				return &usageError{cmd: c, msg: "-additional-domain can only be used with -name-constraint"}
			}
			opts := tlsutil.CAOptions{Days: days, CommonName: cn}
			if nameConstraint {
				opts.PermittedDomains = append([]string{domain, "localhost"}, extraDomains...)
			}
			certFile, keyFile := domain+"-agent-ca.pem", domain+"-agent-ca-key.pem"
			if err := refuseExisting(certFile, keyFile); err != nil {
				return fail(1, "Error creating the CA: %v", err)
			}
			cert, key, err := tlsutil.GenerateCA(opts)
			if err != nil {
				return fail(1, "Error creating the CA: %v", err)
			}
			if err := os.WriteFile(certFile, cert, 0o644); err != nil {
				return fail(1, "Error writing the CA certificate: %v", err)
			}
			fmt.Fprintf(s.Out, "==> CA Certificate saved to: %s\n", certFile)
			if err := os.WriteFile(keyFile, key, 0o600); err != nil {
				return fail(1, "Error writing the CA key: %v", err)
			}
			fmt.Fprintf(s.Out, "==> CA Certificate key saved to: %s\n", keyFile)
			return nil
		},
	}
	f := c.Flags()
	f.IntVar(&days, "days", 5*365, "how many days the CA is valid")
	f.StringVar(&domain, "domain", tlsutil.Domain, "the cluster's domain: names the files, and with -name-constraint the only domain certificates may name")
	f.StringVar(&cn, "common-name", "", "the CA's common name (default \"Drover Agent CA <serial>\")")
	f.BoolVar(&nameConstraint, "name-constraint", false, "limit the names of certificates the CA signs to -domain, -additional-domain and localhost")
	f.StringArrayVar(&extraDomains, "additional-domain", nil, "another domain certificates may name with -name-constraint (repeatable)")
	return c
}

// serverCertWarning is printed before a server certificate is made.
const serverCertWarning = `==> WARNING: Server Certificates grants authority to become a
    server and access all state in the cluster including root keys
    and all ACL tokens. Do not distribute them to production hosts
    that are not server nodes. Store them as securely as CA keys.`

func newTLSCertCreateCommand(s *streams) *cobra.Command {
	var (
		server, client, cli   bool
		caFile, keyFile       string
		region, domain        string
		days                  int
		dnsNames, ipAddresses []string
		clusterRegion         string
	)
	c := &cobra.Command{
		Use:   "create",
		Short: "Create a certificate signed by the CA",
		Long: "Creates a certificate and key signed by the CA for a server (-server), a client\n" +
			"(-client) or the CLI (-cli), named <region>-<kind>-<domain>.pem and\n" +
			"<region>-<kind>-<domain>-key.pem. The certificate names <kind>.<region>.<domain>\n" +
			"and localhost, and agents' certificates 127.0.0.1 too: with\n" +
			"verify_server_hostname agents accept only a server certificate of their region.",
		Example: "  drover tls cert create -server\n  drover tls cert create -client -region europe\n" +
			"  drover tls cert create -server -additional-ipaddress 192.168.56.101",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return &usageError{cmd: c, msg: "This command takes no arguments"}
			}
			var kind tlsutil.Kind
			n := 0
			for _, k := range []struct {
				on   bool
				kind tlsutil.Kind
			}{{server, tlsutil.KindServer}, {client, tlsutil.KindClient}, {cli, tlsutil.KindCLI}} {
				if k.on {
					kind = k.kind
					n++
				}
			}
			switch {
			case n == 0:
				return &usageError{cmd: c, msg: "Please provide either -server, -client, or -cli"}
			case n > 1:
				return &usageError{cmd: c, msg: "Please provide only one of -server, -client, or -cli"}
			}
			if clusterRegion != "" && !c.Flags().Changed("region") {
				region = clusterRegion
			}
			if caFile == "" {
				caFile = domain + "-agent-ca.pem"
			}
			if keyFile == "" {
				keyFile = domain + "-agent-ca-key.pem"
			}
			var ips []net.IP
			for _, a := range ipAddresses {
				ip := net.ParseIP(a)
				if ip == nil {
					return &usageError{cmd: c, msg: fmt.Sprintf("-additional-ipaddress %q is not an IP address", a)}
				}
				ips = append(ips, ip)
			}
			caPEM, err := os.ReadFile(caFile)
			if err != nil {
				return fail(1, "Error reading the CA certificate: %v%s", err, caHint(err))
			}
			caKey, err := os.ReadFile(keyFile)
			if err != nil {
				return fail(1, "Error reading the CA key: %v%s", err, caHint(err))
			}
			prefix := region + "-" + string(kind) + "-" + domain
			certOut, keyOut := prefix+".pem", prefix+"-key.pem"
			if err := refuseExisting(certOut, keyOut); err != nil {
				return fail(1, "Error creating the certificate: %v", err)
			}
			cert, key, err := tlsutil.GenerateCert(tlsutil.CertOptions{CACert: caPEM, CAKey: caKey, Kind: kind,
				Region: region, Domain: domain, Days: days, DNSNames: dnsNames, IPAddresses: ips})
			if err != nil {
				return fail(1, "Error creating the certificate: %v", err)
			}
			if kind == tlsutil.KindServer {
				fmt.Fprintln(s.Out, serverCertWarning)
			}
			fmt.Fprintf(s.Out, "==> Using CA file %s and CA key %s\n", caFile, keyFile)
			label := strings.ToUpper(string(kind[:1])) + string(kind[1:])
			if err := os.WriteFile(certOut, cert, 0o644); err != nil {
				return fail(1, "Error writing the certificate: %v", err)
			}
			fmt.Fprintf(s.Out, "==> %s Certificate saved to %s\n", label, certOut)
			if err := os.WriteFile(keyOut, key, 0o600); err != nil {
				return fail(1, "Error writing the key: %v", err)
			}
			fmt.Fprintf(s.Out, "==> %s Certificate key saved to %s\n", label, keyOut)
			return nil
		},
	}
	f := c.Flags()
	f.BoolVar(&server, "server", false, "make a server certificate (server.<region>.<domain>)")
	f.BoolVar(&client, "client", false, "make a client certificate (client.<region>.<domain>)")
	f.BoolVar(&cli, "cli", false, "make a certificate for the CLI (cli.<region>.<domain>)")
	f.StringVar(&caFile, "ca", "", "the CA certificate (default <domain>-agent-ca.pem)")
	f.StringVar(&keyFile, "key", "", "the CA key (default <domain>-agent-ca-key.pem)")
	f.StringVar(&region, "region", "global", "the region the certificate is for")
	f.StringVar(&clusterRegion, "cluster-region", "", "the old name of -region")
	f.StringVar(&domain, "domain", tlsutil.Domain, "the cluster's domain")
	f.IntVar(&days, "days", 365, "how many days the certificate is valid")
	f.StringArrayVar(&dnsNames, "additional-dnsname", nil, "another DNS name for the certificate (repeatable); localhost is always included")
	f.StringArrayVar(&ipAddresses, "additional-ipaddress", nil, "another IP address for the certificate (repeatable); 127.0.0.1 is always included for agents")
	_ = f.MarkHidden("cluster-region")
	return c
}

// caHint suggests making the CA when its files are missing.
func caHint(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return " (create a CA first with \"drover tls ca create\")"
	}
	return ""
}

// refuseExisting fails if any of the files exists: certificates and keys
// are never overwritten.
func refuseExisting(files ...string) error {
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			return fmt.Errorf("%s already exists; move it away first", f)
		}
	}
	return nil
}
