package config

import (
	"encoding/base64"
	"fmt"
	"reflect"

	"drover/agent/tlsutil"
)

// TLSConfig is the tls block: mutual TLS between agents and, optionally,
// HTTPS for the API. Everything is off when the block is absent.
type TLSConfig struct {
	// HTTP serves the HTTP API over HTTPS.
	HTTP bool `hcl:"http"`
	// RPC makes the RPC port (RPC and raft) accept only mutual TLS, and
	// the agent dial servers with TLS.
	RPC bool `hcl:"rpc"`
	// CAFile is the PEM file of the CA that signs every agent's
	// certificate.
	CAFile string `hcl:"ca_file"`
	// CertFile and KeyFile are this agent's PEM certificate and key.
	CertFile string `hcl:"cert_file"`
	KeyFile  string `hcl:"key_file"`
	// VerifyServerHostname makes the agent check that the servers it
	// dials present a certificate for server.<region>.nomad.
	VerifyServerHostname bool `hcl:"verify_server_hostname"`
	// VerifyHTTPSClient makes the HTTPS API require a client certificate
	// signed by the CA.
	VerifyHTTPSClient bool `hcl:"verify_https_client"`
}

// Enabled reports whether the agent uses TLS anywhere.
func (t TLSConfig) Enabled() bool { return t.HTTP || t.RPC }

// Util is the tls block as tlsutil takes it, for an agent of region.
func (t TLSConfig) Util(region string) tlsutil.Config {
	return tlsutil.Config{
		CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile,
		VerifyServerHostname: t.VerifyServerHostname, VerifyHTTPSClient: t.VerifyHTTPSClient,
		Region: region,
	}
}

// problem is one finding of a check, located at the first of paths that
// was set in a file.
type problem struct {
	paths []string
	msg   string
}

// tlsProblems checks the tls block and server.encrypt of an effective
// configuration: the files must be named when TLS is on, exist, parse and
// belong together.
func (c *Config) tlsProblems() []problem {
	var out []problem
	add := func(msg string, paths ...string) {
		out = append(out, problem{paths: append(paths, "tls"), msg: msg})
	}
	t := c.TLS
	if t.VerifyHTTPSClient && !t.HTTP {
		add("tls.verify_https_client needs tls.http = true: without HTTPS there is no client certificate to verify",
			"tls.verify_https_client")
	}
	need := t.Enabled()
	if need {
		missing := false
		for _, f := range []struct{ path, value string }{
			{"tls.ca_file", t.CAFile}, {"tls.cert_file", t.CertFile}, {"tls.key_file", t.KeyFile},
		} {
			if f.value == "" {
				add(fmt.Sprintf("%s must be set when tls.http or tls.rpc is on", f.path), "tls.rpc", "tls.http")
				missing = true
			}
		}
		if missing {
			return out
		}
	}
	if t.CAFile == "" && t.CertFile == "" && t.KeyFile == "" {
		return out
	}
	if t.CAFile != "" {
		if _, err := tlsutil.LoadCAFile(t.CAFile); err != nil {
			add("tls."+err.Error(), "tls.ca_file")
			return out
		}
	}
	if t.CertFile != "" || t.KeyFile != "" {
		if _, err := tlsutil.LoadKeyPair(t.CertFile, t.KeyFile); err != nil {
			add("tls."+err.Error(), "tls.cert_file", "tls.key_file")
			return out
		}
	}
	if t.CAFile != "" && t.CertFile != "" && t.KeyFile != "" {
		if _, err := tlsutil.Load(t.Util(c.Region)); err != nil {
			add("tls."+err.Error(), "tls.cert_file")
		}
	}
	return out
}

// gossipKeySizes are the key lengths serf's keyring accepts (AES-128,
// -192 and -256).
var gossipKeySizes = []int{16, 24, 32}

// DecodeGossipKey decodes server.encrypt: base64 of 16, 24 or 32 bytes.
func DecodeGossipKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("the key is not valid base64: %v", err)
	}
	for _, n := range gossipKeySizes {
		if len(key) == n {
			return key, nil
		}
	}
	return nil, fmt.Errorf("the key is %d bytes long, it must be 16, 24 or 32 bytes (base64 encoded); make one with \"drover operator gossip keyring generate\"", len(key))
}

func init() {
	attrChecks["server.encrypt"] = func(v reflect.Value) (string, string) {
		if v.String() == "" {
			return "", ""
		}
		if _, err := DecodeGossipKey(v.String()); err != nil {
			return "Invalid encrypt key", err.Error() + "."
		}
		return "", ""
	}
}
