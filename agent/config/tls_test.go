package config

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"drover/agent/tlsutil"
	"drover/testutil/tlstest"
)

func TestParseTLSBlock(t *testing.T) {
	src := `tls {
  http                   = true
  rpc                    = true
  ca_file                = "ca.pem"
  cert_file              = "server.pem"
  key_file               = "server-key.pem"
  verify_server_hostname = true
  verify_https_client    = true
}
server {
  encrypt = "` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"
}
`
	c := mustParse(t, src, "tls.hcl")
	want := TLSConfig{HTTP: true, RPC: true, CAFile: "ca.pem", CertFile: "server.pem", KeyFile: "server-key.pem",
		VerifyServerHostname: true, VerifyHTTPSClient: true}
	if c.TLS != want {
		t.Errorf("tls = %+v, want %+v", c.TLS, want)
	}
	if c.Server.Encrypt == "" {
		t.Error("server.encrypt was not read")
	}
	// A later file can turn TLS off again.
	off := mustParse(t, "tls {\n  http = false\n}\n", "off.hcl")
	if m := Merge(c, off); m.TLS.HTTP || !m.TLS.RPC {
		t.Errorf("merged tls = %+v, want http off and rpc on", m.TLS)
	}
	if d := Default(); d.TLS.Enabled() || d.TLS != (TLSConfig{}) {
		t.Errorf("TLS is on by default: %+v", d.TLS)
	}
}

func TestParseTLSErrors(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"unknown field", "tls {\n  verify_incoming = true\n}\n", `t.hcl:2,3-18: Unsupported argument; An argument named "verify_incoming" is not expected here.`},
		{"wrong type", "tls {\n  rpc = \"maybe\"\n}\n", "t.hcl:2,9-16: Incorrect attribute value type"},
		{"encrypt not base64", "server {\n  encrypt = \"not base64!\"\n}\n", "t.hcl:2,13-26: Invalid encrypt key; the key is not valid base64"},
		{"encrypt too short", "server {\n  encrypt = \"" + base64.StdEncoding.EncodeToString([]byte("short")) + "\"\n}\n",
			"t.hcl:2,13-23: Invalid encrypt key; the key is 5 bytes long, it must be 16, 24 or 32 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "t.hcl")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestValidateTLS(t *testing.T) {
	ca := tlstest.NewCA(t)
	other := tlstest.NewCA(t)
	cert, key := ca.Cert(t, tlsutil.KindServer, "global")
	strangerCert, strangerKey := other.Cert(t, tlsutil.KindServer, "global")
	_, otherKey := ca.Cert(t, tlsutil.KindServer, "global")
	missing := filepath.Join(t.TempDir(), "missing.pem")
	block := func(lines ...string) string {
		return "data_dir = \"/d\"\nclient {\n  enabled = true\n}\ntls {\n" + strings.Join(lines, "\n") + "\n}\n"
	}
	q := func(k, v string) string { return fmt.Sprintf("  %s = %q", k, v) }
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{"good files", block("  rpc = true", "  http = true", q("ca_file", ca.CAFile), q("cert_file", cert), q("key_file", key)), nil},
		{"files without http or rpc are checked too", block(q("ca_file", missing)),
			[]string{"v.hcl:6,13-", "tls.ca_file: open " + missing + ": no such file or directory"}},
		{"rpc without files", block("  rpc = true"), []string{
			"v.hcl:6,9-13: tls.ca_file must be set when tls.http or tls.rpc is on",
			"v.hcl:6,9-13: tls.cert_file must be set", "v.hcl:6,9-13: tls.key_file must be set"}},
		{"CA file is not PEM", block("  rpc = true", q("ca_file", key), q("cert_file", cert), q("key_file", key)),
			[]string{"v.hcl:7,13-", "tls.ca_file " + key + ": no PEM certificate found"}},
		{"key of another certificate", block("  rpc = true", q("ca_file", ca.CAFile), q("cert_file", cert), q("key_file", otherKey)),
			[]string{"v.hcl:8,15-", "private key does not match public key"}},
		{"certificate of another CA", block("  rpc = true", q("ca_file", ca.CAFile), q("cert_file", strangerCert), q("key_file", strangerKey)),
			[]string{"v.hcl:8,15-", "is not signed by the CA in ca_file"}},
		{"verify_https_client without http", block("  verify_https_client = true"),
			[]string{"v.hcl:6,25-29: tls.verify_https_client needs tls.http = true"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Merge(Default(), mustParse(t, tc.src, "v.hcl")).Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", err, w)
				}
			}
		})
	}
}
