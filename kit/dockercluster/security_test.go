package dockercluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"drover/kit/topology"
	"drover/testutil/dockerimg"
)

// TestUpSecure: with security: acl+tls the cluster comes up with its
// own CA, the server keeps the management token it bootstrapped, the
// host reaches the API over HTTPS with the CLI's certificate and the
// token (anonymous requests are refused), a second bootstrap reuses the
// kept token, and down removes the CA with the rest.
func TestUpSecure(t *testing.T) {
	dockerimg.Require(t)
	cli, err := dockerimg.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := topology.Parse("sec.yaml", append([]byte("security: acl+tls\n"), raw...))
	if err != nil {
		t.Fatal(err)
	}
	name := randomName(t)
	stateDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Cleanup(func() { _ = Down(context.Background(), cli, name, os.Stderr) })

	var progress strings.Builder
	st, err := Up(ctx, cli, c, Options{Name: name, Binary: staticDrover(t), StateDir: stateDir, Progress: &progress})
	t.Logf("cluster up:\n%s", progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if !st.NewToken || st.Token == "" || st.TLS == nil || !strings.HasPrefix(st.HostAddress, "https://127.0.0.1:") {
		t.Fatalf("status after up: %+v", st)
	}
	if !strings.Contains(progress.String(), " ✓ ACLs bootstrapped: the management token is kept in "+name+"-drover-server:"+TokenFile) {
		t.Error("progress does not say where the token is kept")
	}
	// Status, as a later "cluster status" would, reads the kept token.
	again, err := Status(ctx, cli, name)
	if err != nil || again.Token != st.Token || again.Security != topology.SecurityACLTLS || again.TLS == nil {
		t.Fatalf("status: %+v %v", again, err)
	}
	leader, nodes, err := Health(ctx, again)
	if err != nil || leader == "" || nodes["client-one"] != "ready" || nodes["client-two"] != "ready" {
		t.Fatalf("health: %q %v %v", leader, nodes, err)
	}
	anon, err := APIClient(&Cluster{HostAddress: st.HostAddress, TLS: st.TLS})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := anon.Nodes().List(nil); err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("anonymous node list: %v, want Permission denied", err)
	}
	noCert, err := api.NewClient(&api.Config{Address: st.HostAddress, SecretID: st.Token,
		TLSConfig: &api.TLSConfig{CACert: st.TLS.CACert}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := noCert.Nodes().List(nil); err == nil {
		t.Error("a client without a certificate was answered")
	}
	tok, fresh, err := Bootstrap(ctx, cli, again)
	if err != nil || fresh || tok != st.Token {
		t.Errorf("second bootstrap: %q fresh %v %v; want the kept token", tok, fresh, err)
	}
	pki := filepath.Dir(st.TLS.CACert)
	if fi, err := os.Stat(filepath.Join(pki, "ca-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key: %v %v", fi, err)
	}
	if err := Down(ctx, cli, name, os.Stderr); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pki); !os.IsNotExist(err) {
		t.Errorf("the lab CA outlives the cluster: %v", err)
	}
}
