package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"drover/kit/labpki"
	"drover/labs"
	"drover/labs/images"
	"drover/testutil/dockerimg"
)

// labStandIns are the stand-ins of the lab images the engine lacks.
func labStandIns(t *testing.T) map[string]string {
	t.Helper()
	cli, err := dockerimg.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	states, err := images.Status(context.Background(), cli, images.LabImages())
	if err != nil {
		t.Fatal(err)
	}
	standIns := map[string]string{}
	for _, st := range states {
		if !st.Present || st.RetaggedStandIn {
			standIns[st.Ref] = st.StandIn
		}
	}
	return standIns
}

// TestGettingStartedWithACLAndTLS is issue 15's acceptance point: the
// whole getting-started lab passes on an agent with ACLs on and mutual
// TLS for RPC and HTTPS (client certificates required), made from a lab
// CA as security: acl+tls makes them, once bootstrapped, with the
// management token in NOMAD_TOKEN and the CLI's certificate in the TLS
// variables, as "drover cluster up" tells the student to export them.
func TestGettingStartedWithACLAndTLS(t *testing.T) {
	requireLabImages(t)
	dev, err := startSecureLabCluster(t.TempDir(), labs.TopologyDev, 0, labStandIns(t), labSecurity{ACL: true, TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dev.Shutdown)
	addr := dev.Addr()
	if !strings.HasPrefix(addr, "https://") {
		t.Fatalf("address %s: want https", addr)
	}
	pki := dev.PKIDir()
	tlsEnv := []string{
		"NOMAD_CACERT=" + filepath.Join(pki, labpki.CAFile),
		"NOMAD_CLIENT_CERT=" + filepath.Join(pki, labpki.CLIFile),
		"NOMAD_CLIENT_KEY=" + filepath.Join(pki, labpki.CLIKeyFile),
	}
	client, err := api.NewClient(&api.Config{Address: addr, TLSConfig: &api.TLSConfig{
		CACert: filepath.Join(pki, labpki.CAFile), ClientCert: filepath.Join(pki, labpki.CLIFile), ClientKey: filepath.Join(pki, labpki.CLIKeyFile)}})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := client.ACLTokens().Bootstrap(nil)
	if err != nil {
		t.Fatal(err)
	}
	run := func(env []string, args ...string) (int, string) {
		var out bytes.Buffer
		code := MainContext(context.Background(), args, &out, &out, append([]string{"HOME=" + t.TempDir()}, env...))
		return code, out.String()
	}
	// Both locks are on: no token, no answer; no certificate, no
	// connection.
	if code, out := run(append([]string{"NOMAD_ADDR=" + addr}, tlsEnv...), "node", "status"); code == 0 || !strings.Contains(out, "Permission denied") {
		t.Fatalf("anonymous node status: exit %d\n%s", code, out)
	}
	if code, out := run([]string{"NOMAD_ADDR=" + addr, "NOMAD_TOKEN=" + tok.SecretID, tlsEnv[0]}, "node", "status"); code == 0 || !strings.Contains(out, "certificate") {
		t.Fatalf("node status without a client certificate: exit %d\n%s", code, out)
	}
	env := append([]string{"NOMAD_TOKEN=" + tok.SecretID}, tlsEnv...)
	code, out := run(env, "lab", "run", "-address", addr, "getting-started")
	if code != 0 || !strings.Contains(out, "getting-started  8/8    passed") {
		t.Fatalf("lab run getting-started with ACLs and TLS: exit %d\n%s", code, out)
	}
	t.Logf("%s", out)
}
