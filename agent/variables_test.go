package agent

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// TestVariables_OfficialClient drives /v1/var and /v1/vars through the
// official API client: create, read, list, prefix list, checked create
// and update with their conflicts, delete, and a blocking list.
func TestVariables_OfficialClient(t *testing.T) {
	a := startAgent(t, "vars", `server {
  enabled          = true
  bootstrap_expect = 1
}`)
	c := apiClient(t, a)
	vars := c.Variables()

	if _, _, err := vars.Read("drover/labs/none", nil); !errors.Is(err, api.ErrVariablePathNotFound) {
		t.Fatalf("read of a missing variable: %v", err)
	}
	created, wm, err := vars.Create(&api.Variable{Path: "drover/labs/one", Items: api.VariableItems{"lab": "one"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if created.Namespace != "default" || created.Path != "drover/labs/one" || created.CreateIndex == 0 ||
		created.ModifyIndex != created.CreateIndex || created.CreateTime == 0 || created.Items["lab"] != "one" || wm.LastIndex == 0 {
		t.Fatalf("created: %+v %+v", created, wm)
	}
	got, qm, err := vars.Read("drover/labs/one", nil)
	if err != nil || got.Items["lab"] != "one" || got.ModifyIndex != created.ModifyIndex || qm.LastIndex < created.ModifyIndex {
		t.Fatalf("read: %v %+v %+v", err, got, qm)
	}
	if _, _, err := vars.Create(&api.Variable{Path: "elsewhere", Items: api.VariableItems{"a": "b"}}, nil); err != nil {
		t.Fatal(err)
	}

	// A checked create of an existing variable conflicts with it.
	_, _, err = vars.CheckedCreate(&api.Variable{Path: "drover/labs/one", Items: api.VariableItems{"lab": "x"}}, nil)
	var conflict api.ErrCASConflict
	if !errors.As(err, &conflict) || conflict.Conflict.ModifyIndex != created.ModifyIndex || conflict.Conflict.Items["lab"] != "one" {
		t.Fatalf("checked create of an existing variable: %v", err)
	}
	upd := got.Copy()
	upd.Items["step"] = "2"
	updated, _, err := vars.CheckedUpdate(upd, nil)
	if err != nil || updated.ModifyIndex <= created.ModifyIndex || updated.CreateIndex != created.CreateIndex || updated.Items["step"] != "2" {
		t.Fatalf("checked update: %v %+v", err, updated)
	}
	if _, _, err := vars.CheckedUpdate(upd, nil); !errors.As(err, &conflict) || conflict.Conflict.ModifyIndex != updated.ModifyIndex {
		t.Fatalf("stale checked update: %v", err)
	}
	if _, err := vars.CheckedDelete("drover/labs/one", created.ModifyIndex, nil); !errors.As(err, &conflict) {
		t.Fatalf("stale checked delete: %v", err)
	}

	all, qm, err := vars.List(nil)
	if err != nil || len(all) != 2 || qm.LastIndex == 0 {
		t.Fatalf("list: %v %+v", err, all)
	}
	labs, _, err := vars.PrefixList("drover/labs/", nil)
	if err != nil || len(labs) != 1 || labs[0].Path != "drover/labs/one" || labs[0].ModifyIndex != updated.ModifyIndex {
		t.Fatalf("prefix list: %v %+v", err, labs)
	}

	// A blocking list wakes up when a variable under the prefix is written.
	done := make(chan []*api.VariableMetadata, 1)
	go func() {
		l, _, err := vars.PrefixList("drover/labs/", &api.QueryOptions{WaitIndex: qm.LastIndex, WaitTime: 10 * time.Second})
		if err != nil {
			t.Error(err)
		}
		done <- l
	}()
	time.Sleep(100 * time.Millisecond)
	if _, _, err := vars.Update(&api.Variable{Path: "drover/labs/two", Items: api.VariableItems{"lab": "two"}}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-done:
		if len(l) != 2 {
			t.Fatalf("blocking list: %+v", l)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("the blocking list did not wake up")
	}

	if _, err := vars.Delete("drover/labs/two", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := vars.CheckedDelete("drover/labs/one", updated.ModifyIndex, nil); err != nil {
		t.Fatal(err)
	}
	if l, _, err := vars.PrefixList("drover/", nil); err != nil || len(l) != 0 {
		t.Fatalf("after deletes: %v %+v", err, l)
	}
}

// TestVariables_BadInput: what the API refuses is a 400 naming the field
// and the reason, never a 500.
func TestVariables_BadInput(t *testing.T) {
	a := startAgent(t, "varsbad", `server {
  enabled          = true
  bootstrap_expect = 1
}`)
	base := "http://" + a.HTTPAddr()
	big := strings.Repeat("x", 70<<10)
	for _, c := range []struct {
		method, path, body, want string
	}{
		{"PUT", "/v1/var/a/b", `{"Items":{}}`, "Items"},
		{"PUT", "/v1/var/a/b", `{}`, "Items"},
		{"PUT", "/v1/var/a/b", `{"Items":{"k":"` + big + `"}}`, "Items"},
		{"PUT", "/v1/var/a%20b", `{"Items":{"k":"v"}}`, "Path"},
		{"PUT", "/v1/var/a/b/", `{"Items":{"k":"v"}}`, "Path"},
		{"PUT", "/v1/var/" + strings.Repeat("p", 129), `{"Items":{"k":"v"}}`, "Path"},
		{"PUT", "/v1/var/a/b", `{"Path":"c","Items":{"k":"v"}}`, "Path"},
		{"PUT", "/v1/var/a/b?cas=x", `{"Items":{"k":"v"}}`, "cas"},
		{"PUT", "/v1/var/a/b", `{"Items":`, "decode"},
		{"PUT", "/v1/var/a/b?lock-acquire", `{"Items":{"k":"v"}}`, "lock"},
		{"PUT", "/v1/var/a/b?namespace=default%00evil", `{"Items":{"k":"v"}}`, "Namespace"},
		{"PUT", "/v1/var/a/b", `{"Namespace":"x y","Items":{"k":"v"}}`, "Namespace"},
		{"DELETE", "/v1/var/a/b?namespace=" + strings.Repeat("n", 129), ``, "Namespace"},
		{"GET", "/v1/var/a//b", ``, ""},
		{"DELETE", "/v1/var/a/b?cas=-1", ``, "cas"},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if c.want == "" {
			// "//" is cleaned by the router: a redirect or a 4xx, never a 500.
			if resp.StatusCode >= 500 {
				t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, b)
			}
			continue
		}
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), c.want) {
			t.Errorf("%s %s: %d %s, want 400 naming %s", c.method, c.path, resp.StatusCode, b, c.want)
		}
	}
}

// TestVariables_ACL: with ACLs on, a policy's variables rules decide
// per path (403 outside them) and management may do everything.
func TestVariables_ACL(t *testing.T) {
	a := startAgent(t, "varsacl", aclAgentHCL)
	boot, _, err := apiClient(t, a).ACLTokens().Bootstrap(nil)
	if err != nil {
		t.Fatal(err)
	}
	mgmt := tokenClient(t, a, boot.SecretID)
	if _, err := mgmt.ACLPolicies().Upsert(&api.ACLPolicy{Name: "labs", Rules: `namespace "default" {
  variables {
    path "drover/*" {
      capabilities = ["write", "read", "list", "destroy"]
    }
  }
}`}, nil); err != nil {
		t.Fatal(err)
	}
	tok, _, err := mgmt.ACLTokens().Create(&api.ACLToken{Name: "labs", Type: "client", Policies: []string{"labs"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	labs := tokenClient(t, a, tok.SecretID).Variables()

	if _, _, err := mgmt.Variables().Create(&api.Variable{Path: "secret/db", Items: api.VariableItems{"pw": "x"}}, nil); err != nil {
		t.Fatalf("management write: %v", err)
	}
	if _, _, err := labs.Create(&api.Variable{Path: "drover/labs/x", Items: api.VariableItems{"lab": "x"}}, nil); err != nil {
		t.Fatalf("allowed write: %v", err)
	}
	if v, _, err := labs.Read("drover/labs/x", nil); err != nil || v.Items["lab"] != "x" {
		t.Fatalf("allowed read: %v %+v", err, v)
	}
	_, _, err = labs.Create(&api.Variable{Path: "secret/other", Items: api.VariableItems{"a": "b"}}, nil)
	wantDenied(t, "write outside the policy", err)
	_, _, err = labs.Read("secret/db", nil)
	wantDenied(t, "read outside the policy", err)
	_, err = labs.Delete("secret/db", nil)
	wantDenied(t, "delete outside the policy", err)
	_, _, err = apiClient(t, a).Variables().Read("drover/labs/x", nil)
	wantDenied(t, "anonymous read", err)

	// Lists show what the token may list.
	l, _, err := labs.List(nil)
	if err != nil || len(l) != 1 || l[0].Path != "drover/labs/x" {
		t.Fatalf("filtered list: %v %+v", err, l)
	}
	if l, _, err := mgmt.Variables().List(nil); err != nil || len(l) != 2 {
		t.Fatalf("management list: %v %+v", err, l)
	}
	if _, err := labs.Delete("drover/labs/x", nil); err != nil {
		t.Fatalf("allowed delete: %v", err)
	}

	// A token that may write and destroy but not read learns from a
	// failed check-and-set that the variable exists, never its items.
	if _, err := mgmt.ACLPolicies().Upsert(&api.ACLPolicy{Name: "blind", Rules: `namespace "default" {
  variables {
    path "secret/*" { capabilities = ["write", "destroy"] }
  }
}`}, nil); err != nil {
		t.Fatal(err)
	}
	btok, _, err := mgmt.ACLTokens().Create(&api.ACLToken{Name: "blind", Type: "client", Policies: []string{"blind"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	blind := tokenClient(t, a, btok.SecretID).Variables()
	_, _, err = blind.CheckedUpdate(&api.Variable{Path: "secret/db", Items: api.VariableItems{"pw": "y"}}, nil)
	var conflict api.ErrCASConflict
	if !errors.As(err, &conflict) {
		t.Fatalf("blind create over an existing variable: %v, want a check-and-set conflict", err)
	}
	if conflict.Conflict == nil || conflict.Conflict.Path != "secret/db" || len(conflict.Conflict.Items) != 0 {
		t.Errorf("the conflict shows a write-only token %+v", conflict.Conflict)
	}
	_, err = blind.CheckedDelete("secret/db", 1, nil)
	conflict = api.ErrCASConflict{}
	if !errors.As(err, &conflict) || conflict.Conflict == nil || len(conflict.Conflict.Items) != 0 {
		t.Errorf("blind checked delete: %v %+v", err, conflict.Conflict)
	}
	// A token that may read gets the items with its conflict.
	_, _, err = mgmt.Variables().CheckedUpdate(&api.Variable{Path: "secret/db", Items: api.VariableItems{"pw": "z"}}, nil)
	conflict = api.ErrCASConflict{}
	if !errors.As(err, &conflict) || conflict.Conflict == nil || conflict.Conflict.Items["pw"] != "x" {
		t.Errorf("management's conflict: %v %+v", err, conflict.Conflict)
	}
}
