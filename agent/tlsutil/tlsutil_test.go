package tlsutil

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func mustCA(t *testing.T) (cert, key []byte) {
	t.Helper()
	cert, key, err := GenerateCA(CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func parse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGenerateCertNamesAndUsages(t *testing.T) {
	caCert, caKey := mustCA(t)
	ca := parse(t, caCert)
	if !ca.IsCA || !strings.HasPrefix(ca.Subject.CommonName, "Drover Agent CA ") {
		t.Fatalf("CA: IsCA=%v CN=%q", ca.IsCA, ca.Subject.CommonName)
	}
	cases := []struct {
		kind     Kind
		region   string
		wantDNS  []string
		wantIPs  int
		clientOK bool
		serverOK bool
	}{
		{KindServer, "", []string{"server.global.nomad", "localhost", "extra.example"}, 2, true, true},
		{KindClient, "europe", []string{"client.europe.nomad", "localhost", "extra.example"}, 2, true, true},
		{KindCLI, "", []string{"cli.global.nomad", "localhost", "extra.example"}, 1, true, false},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			certPEM, keyPEM, err := GenerateCert(CertOptions{CACert: caCert, CAKey: caKey, Kind: tc.kind, Region: tc.region,
				DNSNames: []string{"extra.example", "localhost"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.5")}})
			if err != nil {
				t.Fatal(err)
			}
			c := parse(t, certPEM)
			if !slices.Equal(c.DNSNames, tc.wantDNS) {
				t.Errorf("DNS names %q, want %q", c.DNSNames, tc.wantDNS)
			}
			if len(c.IPAddresses) != tc.wantIPs {
				t.Errorf("IP addresses %v, want %d", c.IPAddresses, tc.wantIPs)
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			for _, u := range []struct {
				usage x509.ExtKeyUsage
				want  bool
			}{{x509.ExtKeyUsageClientAuth, tc.clientOK}, {x509.ExtKeyUsageServerAuth, tc.serverOK}} {
				err := VerifyChain([]*x509.Certificate{c}, pool, u.usage, tc.wantDNS[0])
				if (err == nil) != u.want {
					t.Errorf("usage %v: verify error %v, want ok=%v", u.usage, err, u.want)
				}
			}
			if !strings.Contains(string(keyPEM), "EC PRIVATE KEY") {
				t.Errorf("key is not an EC private key:\n%s", keyPEM)
			}
		})
	}
}

func TestGenerateCertRefusesWrongCAKey(t *testing.T) {
	caCert, _ := mustCA(t)
	_, otherKey := mustCA(t)
	_, _, err := GenerateCert(CertOptions{CACert: caCert, CAKey: otherKey, Kind: KindServer})
	if err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("err = %v, want the key mismatch", err)
	}
}

func TestLoadChecksFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caCert, caKey := mustCA(t)
	otherCert, otherKey := mustCA(t)
	certPEM, keyPEM, err := GenerateCert(CertOptions{CACert: caCert, CAKey: caKey, Kind: KindServer})
	if err != nil {
		t.Fatal(err)
	}
	strangerPEM, strangerKey, err := GenerateCert(CertOptions{CACert: otherCert, CAKey: otherKey, Kind: KindServer})
	if err != nil {
		t.Fatal(err)
	}
	_, key2, err := GenerateCert(CertOptions{CACert: caCert, CAKey: caKey, Kind: KindServer})
	if err != nil {
		t.Fatal(err)
	}
	ca, cert, key := write("ca.pem", caCert), write("cert.pem", certPEM), write("key.pem", keyPEM)
	if _, err := Load(Config{CAFile: ca, CertFile: cert, KeyFile: key}); err != nil {
		t.Fatalf("good files: %v", err)
	}
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing CA", Config{CAFile: filepath.Join(dir, "nope.pem"), CertFile: cert, KeyFile: key}, "no such file"},
		{"CA not PEM", Config{CAFile: write("junk.pem", []byte("hello")), CertFile: cert, KeyFile: key}, "no PEM certificate"},
		{"key of another cert", Config{CAFile: ca, CertFile: cert, KeyFile: write("key2.pem", key2)}, "private key does not match"},
		{"cert of another CA", Config{CAFile: ca, CertFile: write("s.pem", strangerPEM), KeyFile: write("s-key.pem", strangerKey)}, "not signed by the CA"},
		{"no key file", Config{CAFile: ca, CertFile: cert}, "key_file is not set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
