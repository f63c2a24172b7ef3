package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
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
		code := MainContext(context.Background(), args, &out, &out, append([]string{"HOME=" + t.TempDir(), noHints}, env...))
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

// TestLabLearnerSecuring works through the securing lab as a student
// does: lab start runs the cluster with ACLs on and bootstraps it,
// keeping the management token in the workspace; the student types each
// step's commands, exporting the token when the lab says so, and every
// check passes, while anonymous requests stay refused.
func TestLabLearnerSecuring(t *testing.T) {
	requireLabImages(t)
	l := newLearner(t)
	// A token the student's shell had exported before is not the lab's:
	// the lab starts anonymous.
	l.env = append(l.env, "NOMAD_TOKEN=00000000-0000-0000-0000-000000000000")
	p := l.startLab("securing")
	l.env = withoutToken(l.env)
	tokenFile := filepath.Join(l.dir, LabTokenFile)
	if !containsFolded(l.started, "ACLs are on") || !containsFolded(l.started, tokenFile) {
		t.Fatalf("lab start does not say where the management token is:\n%s", l.started)
	}
	st, err := os.Stat(tokenFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v; want a file readable by its owner alone", tokenFile, st, err)
	}
	mgmt := strings.TrimSpace(readFile(t, tokenFile))
	anonymous, err := api.NewClient(&api.Config{Address: p.Address})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := anonymous.Nodes().List(nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("an anonymous node list: %v, want 403", err)
	}

	// Step 1: anonymous.
	l.fails([]string{"Permission denied"}, "node", "status")
	l.must("✓ \"drover node status\" prints \"Permission denied\", exits 1", "lab", "check")
	l.must("Step 2/6", "lab", "next")

	// Step 2: the management token, from bootstrap.token.
	l.env = append(l.env, "NOMAD_TOKEN="+mgmt)
	l.must("management", "acl", "token", "self")
	l.must("Step done", "lab", "check")
	l.must("Step 3/6", "lab", "next")

	// Step 3: a read-only policy.
	l.must("Successfully wrote", "acl", "policy", "apply", "-description", "read only", "readonly", "readonly.hcl")
	l.must(`policy = "read"`, "acl", "policy", "info", "readonly")
	l.must("Step done", "lab", "check")
	l.must("Step 4/6", "lab", "next")

	// Step 4: a client token carrying it.
	out := l.must("Secret ID", "acl", "token", "create", "-name", "student", "-policy", "readonly")
	m := regexp.MustCompile(`Secret ID\s+=\s+(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no Secret ID in:\n%s", out)
	}
	reader := m[1]
	l.must("Step done", "lab", "check")
	l.must("Step 5/6", "lab", "next")

	// Step 5: the student's token cannot run a job.
	l.fails([]string{"Permission denied"}, "job", "run", "-token", reader, "example.nomad")
	l.must("Step done", "lab", "check")
	l.must("Step 6/6", "lab", "next")

	// Step 6: the management token runs it, the student's reads it.
	l.must("", "job", "run", "example.nomad")
	l.must("running", "job", "status", "-token", reader, "example")
	l.must("Lab securing complete", "lab", "check")

	// Still locked to anyone without a token.
	if _, _, err := anonymous.Jobs().List(nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("an anonymous job list: %v, want 403", err)
	}
	// reset replays with the kept token, and step 1's check is
	// anonymous although the student's shell exports a token.
	l.must("Step 3/6", "lab", "reset", "3")
	l.must("Step 1/6", "lab", "reset", "1")
	l.must("Step done", "lab", "check")
	// The token stays where step 2 says it is.
	if got := strings.TrimSpace(readFile(t, tokenFile)); got != mgmt {
		t.Fatalf("after lab reset, %s holds %q, want the management token", tokenFile, got)
	}
	l.must("Step 2/6", "lab", "next")
	l.must("Step done", "lab", "check")
	l.must("Stopped the lab's cluster", "lab", "stop")
}

// TestLabLearnerSecuringTLS works through securing-tls as a student: lab
// start runs the cluster with ACLs and mutual TLS from a lab CA and
// prints the exports that give the student's shell the CLI's
// certificate; with them the student's commands pass each step, without
// a certificate (or with one of another CA) nothing connects, and with
// the certificate but no token the API refuses.
func TestLabLearnerSecuringTLS(t *testing.T) {
	l := newLearner(t)
	p := l.startLab("securing-tls")
	if p.PKI() == "" || !strings.HasPrefix(p.Address, "https://") {
		t.Fatalf("lab start: address %s, PKI %q; want HTTPS and the lab CA", p.Address, p.PKI())
	}
	// The student pastes the exports lab start printed, in the workspace.
	exports := regexp.MustCompile(`(?m)^\s*export (NOMAD_\w+)=(\S+)$`).FindAllStringSubmatch(l.started, -1)
	if len(exports) != 3 {
		t.Fatalf("lab start printed %d TLS exports, want 3:\n%s", len(exports), l.started)
	}
	for _, e := range exports {
		l.env = append(l.env, e[1]+"="+strings.ReplaceAll(e[2], "$PWD", l.dir))
	}
	without := func(set ...string) func() {
		saved := l.env
		l.env = withEnv(l.env, set)
		return func() { l.env = saved }
	}

	// Step 1: no certificate, no connection.
	restore := without("NOMAD_CLIENT_CERT=", "NOMAD_CLIENT_KEY=")
	l.fails([]string{"certificate required"}, "node", "status")
	restore()
	l.must("Step done", "lab", "check")
	l.must("Step 2/3", "lab", "next")

	// Step 2: a certificate of another CA is no better.
	l.must("CA Certificate saved to: nomad-agent-ca.pem", "tls", "ca", "create")
	l.must("Cli Certificate saved to global-cli-nomad.pem", "tls", "cert", "create", "-cli")
	restore = without("NOMAD_CLIENT_CERT=global-cli-nomad.pem", "NOMAD_CLIENT_KEY=global-cli-nomad-key.pem")
	l.fails([]string{"certificate"}, "node", "status")
	restore()
	l.must("Step done", "lab", "check")
	l.must("Step 3/3", "lab", "next")

	// Step 3: the right certificate reaches the API, which wants a token.
	l.fails([]string{"Permission denied"}, "node", "status")
	l.must("ready", "node", "status", "-token", strings.TrimSpace(readFile(t, filepath.Join(l.dir, LabTokenFile))))
	l.must("Lab securing-tls complete", "lab", "check")

	// From outside the lab: HTTPS only, and only with a certificate.
	pki := p.PKI()
	caOnly, err := api.NewClient(&api.Config{Address: p.Address, TLSConfig: &api.TLSConfig{CACert: filepath.Join(pki, labpki.CAFile)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := caOnly.Nodes().List(nil); err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("a node list without a client certificate: %v, want the handshake refused", err)
	}
	plain, err := api.NewClient(&api.Config{Address: strings.Replace(p.Address, "https://", "http://", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := plain.Nodes().List(nil); err == nil {
		t.Fatal("a node list over plain HTTP succeeded")
	}
	l.must(p.Address, "lab", "agent")
	l.must("Stopped the lab's cluster", "lab", "stop")
}
