package agent

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"drover/agent/config"
	"drover/agent/tlsutil"
	"drover/testutil/tlstest"
)

// lockedLog is an agent's log kept for the test to search; it is printed
// when the test fails.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startLoggedAgent is startAgent with the log kept: it starts an agent
// from HCL on free loopback ports and stops it when the test ends.
func startLoggedAgent(t *testing.T, name, hcl string) (*Agent, *lockedLog) {
	t.Helper()
	dir := t.TempDir()
	src := fmt.Sprintf(`name = %q
data_dir = %q
bind_addr = "127.0.0.1"
log_level = "DEBUG"
ports {
  http = %d
  rpc  = %d
  serf = %d
}
%s`, name, dir, freePort(t), freePort(t), freePort(t), hcl)
	path := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load([]string{path}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &lockedLog{}
	a, err := New(cfg, log.New(logs, name+" ", 0))
	if err != nil {
		t.Fatalf("start %s: %v\n%s", name, err, logs)
	}
	t.Cleanup(func() {
		if a.Client() != nil {
			a.Client().Stop()
		}
		a.Shutdown()
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, logs)
		}
	})
	return a, logs
}

// tlsBlock is a tls block with the given files and extra settings.
func tlsBlock(caFile, certFile, keyFile string, extra ...string) string {
	return fmt.Sprintf("tls {\n  ca_file   = %q\n  cert_file = %q\n  key_file  = %q\n  %s\n}\n",
		caFile, certFile, keyFile, strings.Join(extra, "\n  "))
}

const tlsServerHCL = `server {
  enabled          = true
  bootstrap_expect = 1
}
`

func tlsClientHCL(server *Agent) string {
	return fmt.Sprintf("client {\n  enabled = true\n  servers = [%q]\n  options {\n    \"driver.mock.enable\" = \"1\"\n  }\n}\n",
		server.Server().RPCAddr())
}

// tlsAPI is an official API client speaking HTTPS to a with the CA and,
// when certFile is not empty, a client certificate.
func tlsAPI(t *testing.T, a *Agent, caFile, certFile, keyFile string) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{
		Address:   "https://" + a.HTTPAddr(),
		TLSConfig: &api.TLSConfig{CACert: caFile, ClientCert: certFile, ClientKey: keyFile},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// nodeNames lists the names of the nodes the server knows.
func nodeNames(t *testing.T, srv *Agent) []string {
	t.Helper()
	var names []string
	nodes, err := srv.Server().State().Snapshot().Nodes(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	return names
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitLog waits until the log contains text.
func waitLog(t *testing.T, logs *lockedLog, text string) {
	t.Helper()
	waitFor(t, 15*time.Second, fmt.Sprintf("%q in the log", text), func() (bool, string) {
		return strings.Contains(logs.String(), text), ""
	})
}

// TestTLS_ClientWithoutCASignedCertificateCannotJoin: with tls { rpc = true }
// a client whose certificate the CA signed registers; one whose
// certificate another CA signed, and one without TLS, do not.
func TestTLS_ClientWithoutCASignedCertificateCannotJoin(t *testing.T) {
	ca, other := tlstest.NewCA(t), tlstest.NewCA(t)
	sCert, sKey := ca.Cert(t, tlsutil.KindServer, "global")
	srv, srvLog := startLoggedAgent(t, "server", tlsServerHCL+tlsBlock(ca.CAFile, sCert, sKey, "rpc = true"))

	cCert, cKey := ca.Cert(t, tlsutil.KindClient, "global")
	startLoggedAgent(t, "good", tlsClientHCL(srv)+tlsBlock(ca.CAFile, cCert, cKey, "rpc = true", "verify_server_hostname = true"))

	// Trusts the server (its ca_file holds both CAs) but its own
	// certificate comes from the other CA.
	xCert, xKey := other.Cert(t, tlsutil.KindClient, "global")
	bundle := filepath.Join(t.TempDir(), "both-cas.pem")
	if err := os.WriteFile(bundle, append(readFile(t, other.CAFile), readFile(t, ca.CAFile)...), 0o600); err != nil {
		t.Fatal(err)
	}
	_, strangerLog := startLoggedAgent(t, "stranger", tlsClientHCL(srv)+tlsBlock(bundle, xCert, xKey, "rpc = true"))
	// No TLS at all.
	_, plainLog := startLoggedAgent(t, "plain", tlsClientHCL(srv))

	waitFor(t, 15*time.Second, "the good client's node", func() (bool, string) {
		names := nodeNames(t, srv)
		return len(names) > 0, fmt.Sprint(names)
	})
	waitLog(t, strangerLog, "[WARN] client: contact servers")
	waitLog(t, plainLog, "[WARN] client: contact servers")
	waitLog(t, srvLog, "TLS is required")
	waitLog(t, srvLog, "TLS handshake")
	if names := nodeNames(t, srv); len(names) != 1 || names[0] != "good" {
		t.Fatalf("nodes %q; want only the client with a CA-signed certificate", names)
	}
}

// TestTLS_WrongRegionServerCertificateRefused: a server whose certificate
// the CA signed for another region (server.europe.nomad) is refused by a
// client with verify_server_hostname, and accepted by one without.
func TestTLS_WrongRegionServerCertificateRefused(t *testing.T) {
	ca := tlstest.NewCA(t)
	sCert, sKey := ca.Cert(t, tlsutil.KindServer, "europe")
	srv, _ := startLoggedAgent(t, "server", tlsServerHCL+tlsBlock(ca.CAFile, sCert, sKey, "rpc = true"))

	cCert, cKey := ca.Cert(t, tlsutil.KindClient, "global")
	_, strictLog := startLoggedAgent(t, "strict", tlsClientHCL(srv)+tlsBlock(ca.CAFile, cCert, cKey, "rpc = true", "verify_server_hostname = true"))
	startLoggedAgent(t, "lax", tlsClientHCL(srv)+tlsBlock(ca.CAFile, cCert, cKey, "rpc = true"))

	waitFor(t, 15*time.Second, "the lax client's node", func() (bool, string) {
		names := nodeNames(t, srv)
		return len(names) > 0, fmt.Sprint(names)
	})
	waitLog(t, strictLog, "server.global.nomad")
	if names := nodeNames(t, srv); len(names) != 1 || names[0] != "lax" {
		t.Fatalf("nodes %q; want only the client that does not verify the server's name", names)
	}
}

// TestTLS_HTTPSRequiresClientCertificate: with tls { http = true
// verify_https_client = true } the official client gets answers with a
// CA-signed certificate, and is refused without one, with one from
// another CA, and over plain HTTP.
func TestTLS_HTTPSRequiresClientCertificate(t *testing.T) {
	ca, other := tlstest.NewCA(t), tlstest.NewCA(t)
	sCert, sKey := ca.Cert(t, tlsutil.KindServer, "global")
	srv, _ := startLoggedAgent(t, "server", tlsServerHCL+
		tlsBlock(ca.CAFile, sCert, sKey, "http = true", "rpc = true", "verify_server_hostname = true", "verify_https_client = true"))
	cliCert, cliKey := ca.Cert(t, tlsutil.KindCLI, "global")

	self, err := tlsAPI(t, srv, ca.CAFile, cliCert, cliKey).Agent().Self()
	if err != nil {
		t.Fatalf("with a CA-signed client certificate: %v", err)
	}
	if name := self.Member.Name; name != "server.global" {
		t.Errorf("agent self member %q, want server.global", name)
	}
	if leader, err := tlsAPI(t, srv, ca.CAFile, cliCert, cliKey).Status().Leader(); err != nil || leader == "" {
		t.Errorf("status leader = %q, %v", leader, err)
	}

	xCert, xKey := other.Cert(t, tlsutil.KindCLI, "global")
	for _, tc := range []struct {
		name string
		c    *api.Client
	}{
		{"no client certificate", tlsAPI(t, srv, ca.CAFile, "", "")},
		{"certificate from another CA", tlsAPI(t, srv, ca.CAFile, xCert, xKey)},
		{"plain HTTP", apiClient(t, srv)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.c.Agent().Self(); err == nil {
				t.Fatal("the request was answered")
			}
		})
	}
}

// TestTLS_HTTPSWithoutClientVerification: with http = true alone, HTTPS
// answers any client that trusts the CA, and the client agent forwards
// over HTTPS to the server.
func TestTLS_HTTPSWithoutClientVerification(t *testing.T) {
	ca := tlstest.NewCA(t)
	sCert, sKey := ca.Cert(t, tlsutil.KindServer, "global")
	srv, _ := startLoggedAgent(t, "server", tlsServerHCL+tlsBlock(ca.CAFile, sCert, sKey, "http = true", "rpc = true", "verify_https_client = false"))
	cCert, cKey := ca.Cert(t, tlsutil.KindClient, "global")
	cl, _ := startLoggedAgent(t, "client", tlsClientHCL(srv)+tlsBlock(ca.CAFile, cCert, cKey, "http = true", "rpc = true", "verify_server_hostname = true"))

	c := tlsAPI(t, srv, ca.CAFile, "", "")
	waitFor(t, 15*time.Second, "a ready node", func() (bool, string) {
		nodes, _, err := c.Nodes().List(nil)
		if err != nil {
			return false, err.Error()
		}
		return len(nodes) == 1 && nodes[0].Status == "ready", fmt.Sprint(len(nodes))
	})
	nodes, _, err := c.Nodes().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	if node, _, err := c.Nodes().Info(nodes[0].ID, nil); err != nil || !node.TLSEnabled {
		t.Errorf("node TLSEnabled = %v, %v; want true", node != nil && node.TLSEnabled, err)
	}
	// The client-only agent answers node listings by forwarding to the
	// server's HTTPS API.
	viaClient, _, err := tlsAPI(t, cl, ca.CAFile, "", "").Nodes().List(nil)
	if err != nil || len(viaClient) != 1 {
		t.Fatalf("nodes through the client agent: %d, %v", len(viaClient), err)
	}
	// A client that does not trust the CA is refused by its own check.
	if _, err := tlsAPI(t, srv, "", "", "").Agent().Self(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client without the CA: %v; want a certificate error", err)
	}

	// The web UI is served over the same HTTPS listener, by the server
	// and through the client agent, and the token cookie it sets is
	// Secure, so a browser never sends it over plain HTTP.
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(readFile(t, ca.CAFile)) {
		t.Fatal("no CA certificate in", ca.CAFile)
	}
	browser := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, a := range []*Agent{srv, cl} {
		resp, err := browser.Get("https://" + a.HTTPAddr() + "/ui/clients")
		if err != nil {
			t.Fatalf("UI over HTTPS from %s: %v", a.HTTPAddr(), err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `data-node="`+nodes[0].Name+`"`) {
			t.Errorf("UI over HTTPS from %s: %d without the client:\n%s", a.HTTPAddr(), resp.StatusCode, body)
		}
	}
	resp, err := browser.PostForm("https://"+srv.HTTPAddr()+"/ui/settings/tokens", url.Values{"secret": {"any"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cs := resp.Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Errorf("token cookie over HTTPS: %+v; want one, Secure", cs)
	}
}

// TestGossipEncryption_WrongKeyCannotJoin: servers gossip with
// server.encrypt; a server with another key cannot join them, one with the
// same key can.
func TestGossipEncryption_WrongKeyCannotJoin(t *testing.T) {
	key := func(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	serverHCL := func(k string, expect int) string {
		return fmt.Sprintf("server {\n  enabled = true\n  bootstrap_expect = %d\n  encrypt = %q\n}\n", expect, k)
	}
	first, _ := startLoggedAgent(t, "first", serverHCL(key(1), 1))
	serfAddr := first.Server().Members()[0].Addr + ":" + fmt.Sprint(first.Server().Members()[0].Port)

	wrong, _ := startLoggedAgent(t, "wrong", serverHCL(key(2), 0))
	if n, err := wrong.Server().Join([]string{serfAddr}); err == nil || !strings.Contains(err.Error(), "decrypt") {
		t.Fatalf("a server with another key: joined %d, %v; want a decryption failure", n, err)
	}
	none, _ := startLoggedAgent(t, "none", "server {\n  enabled = true\n  bootstrap_expect = 0\n}\n")
	if n, err := none.Server().Join([]string{serfAddr}); err == nil || !strings.Contains(err.Error(), "encrypt") {
		t.Fatalf("a server without a key: joined %d, %v; want refused for encryption", n, err)
	}

	same, _ := startLoggedAgent(t, "same", serverHCL(key(1), 0))
	if _, err := same.Server().Join([]string{serfAddr}); err != nil {
		t.Fatalf("a server with the same key: %v", err)
	}
	waitFor(t, 10*time.Second, "two members", func() (bool, string) {
		return len(first.Server().Members()) == 2, fmt.Sprint(len(first.Server().Members()))
	})
	for _, m := range first.Server().Members() {
		if m.Name != "first.global" && m.Name != "same.global" {
			t.Errorf("member %s is in the cluster", m.Name)
		}
	}
}

// TestTLS_ServersFormRaftOverMutualTLS: three servers with tls { rpc = true
// verify_server_hostname = true } and gossip encryption find each other,
// elect a leader over raft on the TLS port and replicate a write.
func TestTLS_ServersFormRaftOverMutualTLS(t *testing.T) {
	ca := tlstest.NewCA(t)
	sCert, sKey := ca.Cert(t, tlsutil.KindServer, "global")
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	hcl := fmt.Sprintf("server {\n  enabled = true\n  bootstrap_expect = 3\n  encrypt = %q\n}\n", key) +
		tlsBlock(ca.CAFile, sCert, sKey, "rpc = true", "verify_server_hostname = true")
	var servers []*Agent
	for _, name := range []string{"s1", "s2", "s3"} {
		a, _ := startLoggedAgent(t, name, hcl)
		servers = append(servers, a)
	}
	m := servers[0].Server().Members()[0]
	for _, s := range servers[1:] {
		if _, err := s.Server().Join([]string{fmt.Sprintf("%s:%d", m.Addr, m.Port)}); err != nil {
			t.Fatal(err)
		}
	}
	var leader *Agent
	waitFor(t, 30*time.Second, "a leader known to all three", func() (bool, string) {
		leader = nil
		for _, s := range servers {
			if s.Server().IsLeader() {
				leader = s
			}
		}
		if leader == nil {
			return false, "no leader"
		}
		for _, s := range servers {
			if s.Server().Leader() != leader.Server().RPCAddr() {
				return false, "not agreed"
			}
		}
		return len(leader.Server().Peers()) == 3, fmt.Sprint(leader.Server().Peers())
	})

	// A client registers through a follower, which forwards to the leader
	// over TLS; every server applies the node.
	var follower *Agent
	for _, s := range servers {
		if s != leader {
			follower = s
			break
		}
	}
	cCert, cKey := ca.Cert(t, tlsutil.KindClient, "global")
	startLoggedAgent(t, "client", tlsClientHCL(follower)+tlsBlock(ca.CAFile, cCert, cKey, "rpc = true", "verify_server_hostname = true"))
	waitFor(t, 15*time.Second, "the node on every server", func() (bool, string) {
		for _, s := range servers {
			if len(nodeNames(t, s)) != 1 {
				return false, "not yet"
			}
		}
		return true, ""
	})
}
