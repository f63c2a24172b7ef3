package cli

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/rogpeppe/go-internal/testscript"

	"drover/agent/tlsutil"
	"drover/testutil/freeport"
)

// TestTLSScripts runs the transcripts in testdata/tls: tls ca create, tls
// cert create and operator gossip keyring generate, with no agent.
func TestTLSScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/tls",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exit-code":         cmdExitCode,
			"cert-verify":       cmdCertVerify,
			"gossip-key-config": cmdGossipKeyConfig,
			"perm":              cmdPerm,
		},
	})
}

// cmdCertVerify: cert-verify <cert> <ca> <server|client> <name> succeeds
// when the certificate chains to the CA, may be used for that side of a
// TLS connection and is valid for the name (a DNS name or an IP address).
func cmdCertVerify(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: cert-verify <cert> <ca> <server|client> <name>")
	}
	parse := func(path string) *x509.Certificate {
		block, _ := pem.Decode([]byte(ts.ReadFile(path)))
		if block == nil {
			ts.Fatalf("%s: no PEM block", path)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		ts.Check(err)
		return c
	}
	cert, ca := parse(args[0]), parse(args[1])
	usage := map[string]x509.ExtKeyUsage{"server": x509.ExtKeyUsageServerAuth, "client": x509.ExtKeyUsageClientAuth}[args[2]]
	if usage == 0 {
		ts.Fatalf("usage must be server or client, not %q", args[2])
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	err := tlsutil.VerifyChain([]*x509.Certificate{cert}, pool, usage, args[3])
	switch {
	case err != nil && !neg:
		ts.Fatalf("%s: %v", args[0], err)
	case err == nil && neg:
		ts.Fatalf("%s is valid as a %s for %s, signed by %s", args[0], args[2], args[3], args[1])
	}
}

// cmdPerm: perm <file> <mode> fails unless the file's permission bits
// are mode (octal).
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: perm <file> <mode>")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	if got := fmt.Sprintf("%04o", fi.Mode().Perm()); got != args[1] {
		ts.Fatalf("%s has mode %s, want %s", args[0], got, args[1])
	}
}

// cmdGossipKeyConfig: gossip-key-config <key file> <config file> writes a
// server configuration whose encrypt is the key in the file.
func cmdGossipKeyConfig(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: gossip-key-config <key file> <config file>")
	}
	key := strings.TrimSpace(ts.ReadFile(args[0]))
	src := fmt.Sprintf("data_dir = %q\nserver {\n  enabled = true\n  encrypt = %q\n}\n", ts.MkAbs("data"), key)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(src), 0o644))
}

// TestTLSAgentScripts runs the transcripts in testdata/tls-agent against
// a dev agent of their own whose API is HTTPS and asks for a client
// certificate. NOMAD_ADDR is its https:// address, HTTP_ADDR the same
// with http://; CA is the CA's file, CLI_CERT and CLI_KEY a CLI
// certificate the CA signed, OTHER_CERT and OTHER_KEY one another CA
// signed.
func TestTLSAgentScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/tls-agent",
		Setup: func(env *testscript.Env) error {
			dir := filepath.Join(env.WorkDir, ".pki")
			files, err := writeScriptPKI(dir)
			if err != nil {
				return err
			}
			addr, stop, err := startTLSScriptAgent(dir, files)
			if err != nil {
				return err
			}
			env.Defer(stop)
			env.Setenv("NOMAD_ADDR", "https://"+addr)
			env.Setenv("HTTP_ADDR", "http://"+addr)
			for k, v := range files {
				env.Setenv(k, v)
			}
			env.Setenv("NOMAD_CLI_SHOW_HINTS", "false")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"exit-code": cmdExitCode},
	})
}

// writeScriptPKI makes a CA with a server and a CLI certificate, and a
// CLI certificate of another CA, in dir; it returns the files by the
// names the scripts use.
func writeScriptPKI(dir string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	files := map[string]string{}
	write := func(name string, data []byte) error {
		p := filepath.Join(dir, name)
		files[name] = p
		return os.WriteFile(p, data, 0o600)
	}
	for _, ca := range []struct{ prefix string }{{""}, {"OTHER_"}} {
		caCert, caKey, err := tlsutil.GenerateCA(tlsutil.CAOptions{Days: 30})
		if err != nil {
			return nil, err
		}
		kinds := []tlsutil.Kind{tlsutil.KindCLI}
		if ca.prefix == "" {
			kinds = append(kinds, tlsutil.KindServer)
			if err := write("CA", caCert); err != nil {
				return nil, err
			}
		}
		for _, kind := range kinds {
			cert, key, err := tlsutil.GenerateCert(tlsutil.CertOptions{CACert: caCert, CAKey: caKey, Kind: kind, Days: 7})
			if err != nil {
				return nil, err
			}
			name := strings.ToUpper(string(kind))
			if ca.prefix != "" {
				name = "OTHER"
			}
			if err := write(name+"_CERT", cert); err != nil {
				return nil, err
			}
			if err := write(name+"_KEY", key); err != nil {
				return nil, err
			}
		}
	}
	return files, nil
}

// startTLSScriptAgent starts an in-process dev agent with TLS on for RPC
// and HTTP, and verify_https_client, and waits until its node is ready.
func startTLSScriptAgent(dir string, files map[string]string) (string, func(), error) {
	var ports [3]int
	for i := range ports {
		port, err := freeport.Take()
		if err != nil {
			return "", nil, err
		}
		ports[i] = port
	}
	cfg := filepath.Join(dir, "agent.hcl")
	body := fmt.Sprintf(`ports {
  http = %d
  rpc  = %d
  serf = %d
}
tls {
  http                   = true
  rpc                    = true
  ca_file                = %q
  cert_file              = %q
  key_file               = %q
  verify_server_hostname = true
  verify_https_client    = true
}
`, ports[0], ports[1], ports[2], files["CA"], files["SERVER_CERT"], files["SERVER_KEY"])
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- MainContext(ctx, []string{"agent", "-dev", "-config", cfg}, log, log, nil) }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
		}
	}
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(ports[0]))
	client, err := api.NewClient(&api.Config{Address: "https://" + addr, TLSConfig: &api.TLSConfig{
		CACert: files["CA"], ClientCert: files["CLI_CERT"], ClientKey: files["CLI_KEY"]}})
	if err != nil {
		stop()
		return "", nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		nodes, _, err := client.Nodes().List(nil)
		if err == nil && len(nodes) == 1 && nodes[0].Status == "ready" {
			return addr, stop, nil
		}
		select {
		case code := <-done:
			stop()
			return "", nil, fmt.Errorf("the dev agent exited with %d:\n%s", code, log.String())
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("the dev agent's node is not ready: %v\n%s", err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLabEnvCarriesTLSFlags: the commands a lab runs reach the lab's
// agent as the lab command did: its TLS flags become the variables (with
// absolute paths, since steps run in the lab's workspace) and win over
// the variables already set; without flags the variables pass unchanged.
func TestLabEnvCarriesTLSFlags(t *testing.T) {
	base := []string{"NOMAD_CACERT=/old/ca.pem", "DROVER_CLIENT_CERT=/old/cli.pem", "NOMAD_CLIENT_KEY=/old/key.pem", "HOME=/h"}
	s := &streams{Env: base}
	s.global.caCert, s.global.clientCert, s.global.tlsSkipVerify = "ca.pem", "/abs/cli.pem", true
	env := labEnv(s, "https://127.0.0.1:4646", "/ws", "")
	ls := &streams{Env: env}
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"DROVER_ADDR": "https://127.0.0.1:4646", "NOMAD_CACERT": filepath.Join(cwd, "ca.pem"),
		"NOMAD_CLIENT_KEY": "/old/key.pem", "NOMAD_SKIP_VERIFY": "true", "HOME": "/h",
	} {
		if got := ls.getenv(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := ls.setting("", "CLIENT_CERT"); got != "/abs/cli.pem" {
		t.Errorf("client cert the lab's commands use = %q, want /abs/cli.pem (the flag over DROVER_CLIENT_CERT)", got)
	}
	tlsCfg := &streams{Env: labEnv(&streams{Env: base}, "https://x", "/ws", "")}
	if got := tlsCfg.setting("", "CACERT"); got != "/old/ca.pem" {
		t.Errorf("without flags NOMAD_CACERT = %q, want the environment's /old/ca.pem", got)
	}
	// An action's own env (NOMAD_CLIENT_CERT= in a step) unsets the
	// variable and its DROVER_ twin, as the shell line would.
	over := &streams{Env: withEnv(base, []string{"NOMAD_CLIENT_CERT=", "NOMAD_CLIENT_KEY="})}
	if got := over.setting("", "CLIENT_CERT") + over.setting("", "CLIENT_KEY"); got != "" {
		t.Errorf("with NOMAD_CLIENT_CERT= NOMAD_CLIENT_KEY=, the client certificate is %q, want none", got)
	}
	// A lab cluster with TLS gives its own CA and CLI certificate.
	lab := &streams{Env: labEnv(s, "https://127.0.0.1:4646", "/ws", "/ws/.drover-lab/pki")}
	for name, want := range map[string]string{
		"CACERT": "/ws/.drover-lab/pki/ca.pem", "CLIENT_CERT": "/ws/.drover-lab/pki/cli.pem", "CLIENT_KEY": "/ws/.drover-lab/pki/cli-key.pem",
	} {
		if got := lab.setting("", name); got != want {
			t.Errorf("a lab cluster with TLS: %s = %q, want %q", name, got, want)
		}
	}
}

// TestIsTLSError: a lab fails at once on a certificate problem, and keeps
// waiting for a cluster that is still starting.
func TestIsTLSError(t *testing.T) {
	for _, tc := range []struct {
		err  string
		want bool
	}{
		{`Get "https://127.0.0.1:4646/v1/nodes": tls: failed to verify certificate: x509: certificate signed by unknown authority`, true},
		{`Get "https://127.0.0.1:4646/v1/nodes": remote error: tls: certificate required`, true},
		{`Get "https://127.0.0.1:4646/v1/nodes": http: server gave HTTP response to HTTPS client`, true},
		{`Get "http://127.0.0.1:4646/v1/nodes": dial tcp 127.0.0.1:4646: connect: connection refused`, false},
		{`Unexpected response code: 500 (No cluster leader)`, false},
	} {
		if got := isTLSError(fmt.Errorf("%s", tc.err)); got != tc.want {
			t.Errorf("isTLSError(%q) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if isTLSError(nil) {
		t.Error("isTLSError(nil) = true")
	}
}
