// Package labpki keeps the secrets of a lab cluster whose cluster.yaml
// says security: acl+tls: a lab CA, one certificate per machine (a server
// certificate for servers, a client certificate for clients), one CLI
// certificate for the student, and the servers' gossip encryption key.
// They are made with agent/tlsutil, the code behind "drover tls ca create"
// and "drover tls cert create", and kept in one directory so that every
// machine rendered from it trusts the same CA:
//
//	ca.pem, ca-key.pem        the CA (the key never leaves this directory)
//	gossip.key                the servers' server.encrypt
//	<machine>.pem, -key.pem   each machine's certificate
//	cli.pem, cli-key.pem      the student's certificate
//
// Files that exist are reused, never overwritten: rendering again, or on
// another machine sharing the directory, gives the same CA.
package labpki

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"drover/agent/tlsutil"
	"drover/kit/topology"
)

// File names in the directory.
const (
	CAFile     = "ca.pem"
	CAKeyFile  = "ca-key.pem"
	GossipFile = "gossip.key"
	CLIFile    = "cli.pem"
	CLIKeyFile = "cli-key.pem"
)

// PKI is a directory of lab secrets.
type PKI struct {
	Dir string
	// Region the certificates are for: their names are
	// <kind>.<region>.nomad.
	Region string
}

// Open makes dir's CA and gossip key when they are missing, and returns
// the PKI of dir.
func Open(dir, region string) (*PKI, error) {
	if region == "" {
		region = "global"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &PKI{Dir: dir, Region: region}
	if !exists(p.path(CAFile)) {
		cert, key, err := tlsutil.GenerateCA(tlsutil.CAOptions{CommonName: "Drover Lab CA"})
		if err != nil {
			return nil, fmt.Errorf("lab CA: %w", err)
		}
		// The key first: a CA certificate without its key is useless.
		if err := writeNew(p.path(CAKeyFile), key, 0o600); err != nil {
			return nil, err
		}
		if err := writeNew(p.path(CAFile), cert, 0o644); err != nil {
			return nil, err
		}
	}
	if !exists(p.path(GossipFile)) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := writeNew(p.path(GossipFile), []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *PKI) path(name string) string { return filepath.Join(p.Dir, name) }

// Path is the full path of a file of the directory.
func (p *PKI) Path(name string) string { return p.path(name) }

// GossipKey is the servers' encryption key.
func (p *PKI) GossipKey() (string, error) {
	b, err := os.ReadFile(p.path(GossipFile))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// CA is the CA certificate, PEM.
func (p *PKI) CA() ([]byte, error) { return os.ReadFile(p.path(CAFile)) }

// Machine returns the certificate and key of a machine, making them the
// first time: a server certificate (server.<region>.nomad) for a server,
// a client certificate for a client, each also naming the machine's
// hostname and address (and localhost and 127.0.0.1).
func (p *PKI) Machine(m topology.Machine) (cert, key []byte, err error) {
	kind := tlsutil.KindClient
	if m.Role == topology.RoleServer {
		kind = tlsutil.KindServer
	}
	return p.cert(m.Name+".pem", m.Name+"-key.pem", tlsutil.CertOptions{
		Kind: kind, DNSNames: []string{m.Hostname}, IPAddresses: []net.IP{net.IP(m.IP.AsSlice())},
	})
}

// CLI returns the paths of the student's certificate and key, making
// them the first time.
func (p *PKI) CLI() (certFile, keyFile string, err error) {
	if _, _, err := p.cert(CLIFile, CLIKeyFile, tlsutil.CertOptions{Kind: tlsutil.KindCLI}); err != nil {
		return "", "", err
	}
	return p.path(CLIFile), p.path(CLIKeyFile), nil
}

func (p *PKI) cert(certName, keyName string, opts tlsutil.CertOptions) ([]byte, []byte, error) {
	certPath, keyPath := p.path(certName), p.path(keyName)
	if exists(certPath) && exists(keyPath) {
		cert, err := os.ReadFile(certPath)
		if err != nil {
			return nil, nil, err
		}
		key, err := os.ReadFile(keyPath)
		return cert, key, err
	}
	caCert, err := os.ReadFile(p.path(CAFile))
	if err != nil {
		return nil, nil, err
	}
	caKey, err := os.ReadFile(p.path(CAKeyFile))
	if err != nil {
		return nil, nil, err
	}
	opts.CACert, opts.CAKey, opts.Region, opts.Days = caCert, caKey, p.Region, 365
	cert, key, err := tlsutil.GenerateCert(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certName, err)
	}
	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(certPath, cert, 0o644); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// writeNew writes a file that must not exist yet: two machines making the
// CA at once in a shared directory keep the first one's.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
