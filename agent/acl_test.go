package agent

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// aclAgentHCL is a one-agent cluster (server and client, mock driver)
// with ACLs on.
const aclAgentHCL = `server {
  enabled          = true
  bootstrap_expect = 1
}
client {
  enabled = true
  options {
    "driver.mock.enable" = "1"
  }
}
acl {
  enabled = true
}`

// tokenClient is an API client that sends secret as X-Nomad-Token.
func tokenClient(t *testing.T, a *Agent, secret string) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: "http://" + a.HTTPAddr(), SecretID: secret})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantDenied checks that err is the 403 refusal, with its exact text.
func wantDenied(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: allowed, want 403 Permission denied", what)
	}
	if !strings.Contains(err.Error(), "Unexpected response code: 403 (Permission denied)") {
		t.Fatalf("%s: %v, want 403 (Permission denied)", what, err)
	}
}

func mockJob(t *testing.T, c *api.Client, name, namespace string) *api.Job {
	t.Helper()
	job, err := c.Jobs().ParseHCL(fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  namespace   = %q
  group "g" {
    task "t" {
      driver = "mock"
      config {
        run_for       = "1h"
        stdout_string = "secret output\n"
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}`, name, namespace), true)
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// TestACL_EndToEnd drives ACLs through the official API client against
// a real agent: anonymous refused except what the anonymous policy
// grants, a read-only token that reads but cannot register, a
// namespace-scoped token that sees only its namespace, management that
// does everything, and expired and deleted tokens refused at once.
func TestACL_EndToEnd(t *testing.T) {
	a := startAgent(t, "acl", aclAgentHCL)
	anon := apiClient(t, a)

	// Before bootstrap nobody can do anything but bootstrap.
	_, _, err := anon.Jobs().List(nil)
	wantDenied(t, "anonymous job list", err)
	_, _, err = anon.Nodes().List(nil)
	wantDenied(t, "anonymous node list", err)
	if _, err := anon.Agent().Self(); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("anonymous agent self: %v", err)
	}
	// Health and leader stay open (load balancers, the CLI's first call).
	if _, err := anon.Status().Leader(); err != nil {
		t.Fatalf("anonymous status leader: %v", err)
	}

	boot, _, err := anon.ACLTokens().Bootstrap(nil)
	if err != nil {
		t.Fatal(err)
	}
	if boot.Type != "management" || boot.Name != "Bootstrap Token" || !boot.Global || boot.SecretID == "" ||
		boot.CreateIndex == 0 || boot.CreateTime.IsZero() || boot.ExpirationTime != nil {
		t.Fatalf("bootstrap token: %+v", boot)
	}
	_, _, err = anon.ACLTokens().Bootstrap(nil)
	wantMsg := fmt.Sprintf("Unexpected response code: 400 (ACL bootstrap already done (reset index: %d))", boot.CreateIndex)
	if err == nil || !strings.Contains(err.Error(), wantMsg) {
		t.Fatalf("second bootstrap: %v\nwant %s", err, wantMsg)
	}

	mgmt := tokenClient(t, a, boot.SecretID)
	waitFor(t, 15*time.Second, "the node ready", func() (bool, string) {
		nodes, _, err := mgmt.Nodes().List(nil)
		if err != nil {
			return false, err.Error()
		}
		return len(nodes) == 1 && nodes[0].Status == "ready", fmt.Sprint(len(nodes))
	})
	for _, p := range []*api.ACLPolicy{
		{Name: "readonly", Description: "read jobs and nodes", Rules: `namespace "default" { policy = "read" }
node { policy = "read" }`},
		{Name: "dev", Rules: `namespace "dev*" { policy = "write" }`},
		{Name: "ops", Rules: `namespace "*" { capabilities = ["list-jobs"] }`},
	} {
		if _, err := mgmt.ACLPolicies().Upsert(p, nil); err != nil {
			t.Fatalf("policy %s: %v", p.Name, err)
		}
	}
	// Management registers jobs in two namespaces.
	for _, j := range []*api.Job{mockJob(t, mgmt, "web", "default"), mockJob(t, mgmt, "api", "dev")} {
		if _, _, err := mgmt.Jobs().Register(j, nil); err != nil {
			t.Fatalf("management register %s: %v", *j.ID, err)
		}
	}
	var allocID string
	waitFor(t, 20*time.Second, "web running", func() (bool, string) {
		allocs, _, err := mgmt.Jobs().Allocations("web", false, nil)
		if err != nil || len(allocs) == 0 || allocs[0].ClientStatus != "running" {
			return false, fmt.Sprint(err)
		}
		allocID = allocs[0].ID
		return true, ""
	})

	// The anonymous policy: what it grants, anonymous requests get.
	_, _, err = anon.Jobs().List(nil)
	wantDenied(t, "anonymous job list before the anonymous policy", err)
	if _, err := mgmt.ACLPolicies().Upsert(&api.ACLPolicy{Name: "anonymous",
		Rules: `namespace "default" { policy = "list" }`}, nil); err != nil {
		t.Fatal(err)
	}
	jobs, _, err := anon.Jobs().List(nil)
	if err != nil || len(jobs) != 1 || jobs[0].ID != "web" {
		t.Fatalf("anonymous list with the anonymous policy: %v %v", jobs, err)
	}
	_, _, err = anon.Jobs().Info("web", nil)
	wantDenied(t, "anonymous job info (list only)", err)
	_, _, err = anon.Nodes().List(nil)
	wantDenied(t, "anonymous node list with the anonymous policy", err)

	// A read-only token reads but does not register, stop or read logs.
	ro, _, err := mgmt.ACLTokens().Create(&api.ACLToken{Name: "ro", Type: "client", Policies: []string{"readonly"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	roc := tokenClient(t, a, ro.SecretID)
	if j, _, err := roc.Jobs().Info("web", nil); err != nil || *j.ID != "web" {
		t.Fatalf("read-only job info: %v", err)
	}
	if _, _, err := roc.Allocations().Info(allocID, nil); err != nil {
		t.Fatalf("read-only alloc info: %v", err)
	}
	if nodes, _, err := roc.Nodes().List(nil); err != nil || len(nodes) != 1 {
		t.Fatalf("read-only node list: %v", err)
	}
	_, _, err = roc.Jobs().Register(mockJob(t, roc, "sneaky", "default"), nil)
	wantDenied(t, "read-only register", err)
	_, _, err = roc.Jobs().Deregister("web", false, nil)
	wantDenied(t, "read-only stop", err)
	_, err = roc.Nodes().UpdateDrain(a.Client().NodeID(), &api.DrainSpec{Deadline: time.Hour}, false, nil)
	wantDenied(t, "read-only drain", err)
	alloc, _, _ := mgmt.Allocations().Info(allocID, nil)
	_, err = roc.AllocFS().Cat(alloc, "alloc/logs/t.stdout.0", nil)
	wantDenied(t, "read-only read-fs", err)
	wantDenied(t, "read-only alloc stop", func() error { _, err := roc.Allocations().Stop(alloc, nil); return err }())
	_, _, err = roc.ACLTokens().List(nil)
	wantDenied(t, "read-only token list", err)
	if self, _, err := roc.ACLTokens().Self(nil); err != nil || self.AccessorID != ro.AccessorID {
		t.Fatalf("read-only token self: %v", err)
	}
	if p, _, err := roc.ACLPolicies().Info("readonly", nil); err != nil || p.Rules == "" {
		t.Fatalf("a token reads its own policy: %v", err)
	}
	_, _, err = roc.ACLPolicies().Info("dev", nil)
	wantDenied(t, "a token reads another policy", err)
	if _, _, err := roc.Jobs().Register(mockJob(t, roc, "web", "default"), &api.WriteOptions{AuthToken: boot.SecretID}); err != nil {
		t.Fatalf("a per-request token overrides the client's: %v", err)
	}

	// A namespace-scoped token lists only its namespace, and writes
	// only there.
	dev, _, err := mgmt.ACLTokens().Create(&api.ACLToken{Name: "dev", Type: "client", Policies: []string{"dev"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	devc := tokenClient(t, a, dev.SecretID)
	all := &api.QueryOptions{Namespace: "*"}
	jobs, _, err = devc.Jobs().List(all)
	if err != nil || len(jobs) != 1 || jobs[0].ID != "api" || jobs[0].Namespace != "dev" {
		t.Fatalf("namespace-scoped list of all namespaces: %v %v", jobs, err)
	}
	allocs, _, err := devc.Allocations().List(all)
	if err != nil {
		t.Fatal(err)
	}
	for _, al := range allocs {
		if al.Namespace != "dev" {
			t.Errorf("namespace-scoped alloc list shows %s in %s", al.ID, al.Namespace)
		}
	}
	_, _, err = devc.Jobs().List(nil)
	wantDenied(t, "namespace-scoped list of default", err)
	_, _, err = devc.Jobs().Register(mockJob(t, mgmt, "nope", "default"), nil)
	wantDenied(t, "namespace-scoped register in default", err)
	if _, _, err := devc.Jobs().Register(mockJob(t, mgmt, "api2", "dev"), nil); err != nil {
		t.Fatalf("namespace-scoped register in its namespace: %v", err)
	}
	// A glob policy that grants list-jobs everywhere sees every namespace.
	ops, _, _ := mgmt.ACLTokens().Create(&api.ACLToken{Name: "ops", Type: "client", Policies: []string{"ops"}}, nil)
	jobs, _, err = tokenClient(t, a, ops.SecretID).Jobs().List(all)
	if err != nil || len(jobs) != 3 {
		t.Fatalf("list-jobs in every namespace: %d jobs, %v", len(jobs), err)
	}

	// Management: the ACL API, garbage collection, operator endpoints.
	tokens, _, err := mgmt.ACLTokens().List(nil)
	if err != nil || len(tokens) != 4 {
		t.Fatalf("token list: %d, %v", len(tokens), err)
	}
	if err := mgmt.System().GarbageCollect(); err != nil {
		t.Fatalf("management gc: %v", err)
	}
	wantDenied(t, "read-only gc", roc.System().GarbageCollect())
	if _, err := mgmt.Operator().RaftGetConfiguration(nil); err != nil {
		t.Fatalf("management raft configuration: %v", err)
	}
	_, err = roc.Operator().RaftGetConfiguration(nil)
	wantDenied(t, "read-only raft configuration", err)

	// A deleted token is refused by the very next request.
	if _, err := mgmt.ACLTokens().Delete(ro.AccessorID, nil); err != nil {
		t.Fatal(err)
	}
	_, _, err = roc.Jobs().Info("web", nil)
	wantDenied(t, "deleted token", err)

	// An expired token is refused from the moment it expires.
	short, _, err := mgmt.ACLTokens().Create(&api.ACLToken{Name: "short", Type: "client", Policies: []string{"readonly"},
		ExpirationTTL: 500 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if short.ExpirationTime == nil || short.ExpirationTime.Sub(short.CreateTime) != 500*time.Millisecond {
		t.Fatalf("ttl token: created %v, expires %v", short.CreateTime, short.ExpirationTime)
	}
	shortc := tokenClient(t, a, short.SecretID)
	if _, _, err := shortc.Jobs().Info("web", nil); err != nil && time.Now().Before(*short.ExpirationTime) {
		t.Fatalf("ttl token before expiry: %v", err)
	}
	time.Sleep(time.Until(*short.ExpirationTime))
	_, _, err = shortc.Jobs().Info("web", nil)
	wantDenied(t, "expired token", err)

	// An unknown secret is refused, not treated as anonymous.
	_, _, err = tokenClient(t, a, "6a1f6d4b-5f3e-4c54-9d85-3b1e0f8c2a77").Jobs().List(nil)
	wantDenied(t, "unknown secret", err)
}

// TestACL_MalformedPolicy: a policy that does not parse is refused with
// where the problem is.
func TestACL_MalformedPolicy(t *testing.T) {
	a := startAgent(t, "acl", aclAgentHCL)
	boot, _, err := apiClient(t, a).ACLTokens().Bootstrap(nil)
	if err != nil {
		t.Fatal(err)
	}
	mgmt := tokenClient(t, a, boot.SecretID)
	_, err = mgmt.ACLPolicies().Upsert(&api.ACLPolicy{Name: "bad", Rules: "namespace \"default\" {\n  policy = \"reed\"\n}\n"}, nil)
	want := `400 (Failed to parse policy: bad:2,12-18: Invalid policy; invalid namespace policy "reed": want one of deny, list, read, scale, write)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("malformed policy: %v\nwant %s", err, want)
	}
	_, err = mgmt.ACLPolicies().Upsert(&api.ACLPolicy{Name: "syntax", Rules: "namespace \"default\" {\n  policy = \n}\n"}, nil)
	if err == nil || !strings.Contains(err.Error(), "Failed to parse policy: syntax:2,") {
		t.Fatalf("policy with a syntax error: %v", err)
	}
	if ps, _, _ := mgmt.ACLPolicies().List(nil); len(ps) != 0 {
		t.Errorf("a refused policy was stored: %v", ps)
	}
}

// TestACL_OffByDefault: without an acl block nothing is checked and the
// ACL API says it is disabled.
func TestACL_OffByDefault(t *testing.T) {
	a := startAgent(t, "plain", `server {
  enabled          = true
  bootstrap_expect = 1
}`)
	c := apiClient(t, a)
	if _, _, err := c.Jobs().List(nil); err != nil {
		t.Fatalf("job list without ACLs: %v", err)
	}
	_, _, err := c.ACLTokens().Bootstrap(nil)
	if err == nil || !strings.Contains(err.Error(), "400 (ACL support disabled)") {
		t.Fatalf("bootstrap without ACLs: %v", err)
	}
	// A token, even a made-up one, changes nothing.
	if _, _, err := tokenClient(t, a, "whatever").Jobs().List(nil); err != nil {
		t.Fatalf("job list with a token and no ACLs: %v", err)
	}
}

// TestACL_ClientOnlyAgent: a client-only agent checks the requests it
// answers itself (an allocation's logs) by asking a server, and what it
// forwards is checked by the server.
func TestACL_ClientOnlyAgent(t *testing.T) {
	srv := startAgent(t, "server", `server {
  enabled          = true
  bootstrap_expect = 1
}
acl {
  enabled = true
}`)
	cl := startAgent(t, "client", fmt.Sprintf(`client {
  enabled = true
  servers = [%q]
  options {
    "driver.mock.enable" = "1"
  }
}
acl {
  enabled = true
}`, srv.Server().RPCAddr()))
	boot, _, err := apiClient(t, srv).ACLTokens().Bootstrap(nil)
	if err != nil {
		t.Fatal(err)
	}
	mgmt := tokenClient(t, srv, boot.SecretID)
	if _, err := mgmt.ACLPolicies().Upsert(&api.ACLPolicy{Name: "readonly",
		Rules: `namespace "default" { policy = "read" }`}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := mgmt.ACLPolicies().Upsert(&api.ACLPolicy{Name: "logs",
		Rules: `namespace "default" { capabilities = ["read-logs"] }`}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := mgmt.Jobs().Register(mockJob(t, mgmt, "web", "default"), nil); err != nil {
		t.Fatal(err)
	}
	var allocID string
	waitFor(t, 20*time.Second, "web running on the client", func() (bool, string) {
		allocs, _, err := mgmt.Jobs().Allocations("web", false, nil)
		if err != nil || len(allocs) == 0 || allocs[0].ClientStatus != "running" {
			return false, fmt.Sprint(err)
		}
		allocID = allocs[0].ID
		return true, ""
	})
	ro, _, _ := mgmt.ACLTokens().Create(&api.ACLToken{Name: "ro", Type: "client", Policies: []string{"readonly"}}, nil)
	logs, _, _ := mgmt.ACLTokens().Create(&api.ACLToken{Name: "logs", Type: "client", Policies: []string{"logs"}}, nil)

	// Straight to the client agent, which answers logs itself.
	get := func(secret string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/v1/client/fs/logs/%s?task=t&type=stdout&plain=true&origin=start",
			cl.HTTPAddr(), allocID), nil)
		if secret != "" {
			req.Header.Set("X-Nomad-Token", secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return resp.StatusCode, string(body)
	}
	waitFor(t, 10*time.Second, "the task's output", func() (bool, string) {
		code, body := get(logs.SecretID)
		return code == 200 && strings.Contains(body, "secret output"), fmt.Sprint(code, body)
	})
	for _, c := range []struct{ name, secret string }{{"anonymous", ""}, {"read-only", ro.SecretID}} {
		if code, body := get(c.secret); code != 403 || body != "Permission denied" {
			t.Errorf("%s logs on the client agent: %d %q", c.name, code, body)
		}
	}
	// What the client agent forwards, the server checks.
	roClient := tokenClient(t, cl, ro.SecretID)
	if j, _, err := roClient.Jobs().Info("web", nil); err != nil || *j.ID != "web" {
		t.Fatalf("read-only job info through the client agent: %v", err)
	}
	_, _, err = roClient.Jobs().Register(mockJob(t, roClient, "x", "default"), nil)
	wantDenied(t, "read-only register through the client agent", err)
	// Deleting the token on the servers refuses it on the client at once.
	if _, err := mgmt.ACLTokens().Delete(logs.AccessorID, nil); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(logs.SecretID); code != 403 {
		t.Errorf("deleted token on the client agent: %d", code)
	}
	names := []string{}
	ps, _, _ := mgmt.ACLPolicies().List(nil)
	for _, p := range ps {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "logs,readonly" {
		t.Errorf("policies: %v", names)
	}
}
