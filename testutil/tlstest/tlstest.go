// Package tlstest makes throw-away certificate authorities and
// certificates for tests, written to files as an agent's tls block wants
// them.
package tlstest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"drover/agent/tlsutil"
)

// CA is a test certificate authority whose files live in Dir.
type CA struct {
	Dir string
	// CAFile and KeyFile are the CA's certificate and key.
	CAFile, KeyFile string
	cert, key       []byte
	n               int
}

// NewCA makes a CA in a fresh temporary directory of t.
func NewCA(t testing.TB) *CA {
	t.Helper()
	cert, key, err := tlsutil.GenerateCA(tlsutil.CAOptions{Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca := &CA{Dir: dir, CAFile: filepath.Join(dir, "ca.pem"), KeyFile: filepath.Join(dir, "ca-key.pem"), cert: cert, key: key}
	write(t, ca.CAFile, cert)
	write(t, ca.KeyFile, key)
	return ca
}

// Cert makes a certificate of kind for region, signed by the CA, and
// returns the certificate and key files.
func (ca *CA) Cert(t testing.TB, kind tlsutil.Kind, region string) (certFile, keyFile string) {
	t.Helper()
	cert, key, err := tlsutil.GenerateCert(tlsutil.CertOptions{CACert: ca.cert, CAKey: ca.key, Kind: kind, Region: region, Days: 7})
	if err != nil {
		t.Fatal(err)
	}
	ca.n++
	certFile = filepath.Join(ca.Dir, fmt.Sprintf("%d-%s-%s.pem", ca.n, region, kind))
	keyFile = filepath.Join(ca.Dir, fmt.Sprintf("%d-%s-%s-key.pem", ca.n, region, kind))
	write(t, certFile, cert)
	write(t, keyFile, key)
	return certFile, keyFile
}

// Loaded is tlsutil.Load of a new certificate of kind for region.
func (ca *CA) Loaded(t testing.TB, kind tlsutil.Kind, region string, verifyServerHostname bool) *tlsutil.Loaded {
	t.Helper()
	certFile, keyFile := ca.Cert(t, kind, region)
	l, err := tlsutil.Load(tlsutil.Config{CAFile: ca.CAFile, CertFile: certFile, KeyFile: keyFile,
		VerifyServerHostname: verifyServerHostname, Region: region})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
