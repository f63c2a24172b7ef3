package config

import (
	"strings"
	"testing"
	"time"
)

// TestParse_ACL: the acl block turns access control on; it stays off
// when the block is absent, and a later file can turn it off again.
func TestParse_ACL(t *testing.T) {
	on, err := Parse([]byte("acl {\n  enabled = true\n  token_ttl = \"30s\"\n  policy_ttl = \"1m\"\n}\n"), "acl.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if !on.ACL.Enabled || on.ACL.TokenTTL != 30*time.Second || on.ACL.PolicyTTL != time.Minute {
		t.Errorf("acl block: %+v", on.ACL)
	}
	if Default().ACL.Enabled || DevConfig().ACL.Enabled {
		t.Error("ACLs must be off by default")
	}
	if !Merge(Default(), on).ACL.Enabled {
		t.Error("merging acl.enabled = true over the defaults lost it")
	}
	off, err := Parse([]byte("acl { enabled = false }\n"), "off.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if Merge(Merge(Default(), on), off).ACL.Enabled {
		t.Error("a later acl.enabled = false did not win")
	}
	_, err = Parse([]byte("acl {\n  enable = true\n}\n"), "bad.hcl")
	if err == nil || !strings.Contains(err.Error(), "bad.hcl:2,") {
		t.Errorf("unknown acl key: %v", err)
	}
}
