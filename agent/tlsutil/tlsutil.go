// Package tlsutil turns an agent's TLS settings (a CA, its own certificate
// and key, and the two verify switches) into the crypto/tls configurations
// of each connection the agent makes or accepts, and makes the lab CA and
// certificates that "drover tls" writes.
//
// # Names
//
// Certificates follow the naming convention of the clusters Drover is
// compatible with: a server's certificate names server.<region>.nomad, a
// client's client.<region>.nomad, the CLI's cli.<region>.nomad, and every
// one also names localhost and 127.0.0.1. With verify_server_hostname an
// agent dialling a server checks the server's certificate against
// server.<region>.nomad, so a certificate signed by the right CA but made
// for another region, or for a client, cannot pose as a server.
//
// # Who checks what
//
//	connection        presents        checks the peer's certificate
//	RPC, accepted     own cert        required, signed by the CA
//	RPC, dialled      own cert        signed by the CA; and names
//	                                  server.<region>.nomad with
//	                                  verify_server_hostname
//	raft, accepted    own cert        as RPC; and names server.<region>.nomad
//	                                  with verify_server_hostname
//	HTTPS, accepted   own cert        only with verify_https_client:
//	                                  required, signed by the CA
//	HTTPS, forwarded  own cert        signed by the CA (agent to agent)
package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
)

// Domain is the last label of the names agents' certificates carry.
const Domain = "nomad"

// ServerName is the name a server certificate of region must carry.
func ServerName(region string) string { return "server." + region + "." + Domain }

// ClientName is the name a client certificate of region carries.
func ClientName(region string) string { return "client." + region + "." + Domain }

// Config is an agent's TLS settings, as the tls block states them.
type Config struct {
	// CAFile, CertFile and KeyFile are PEM files: the CA that signs every
	// agent's certificate, and this agent's certificate and key.
	CAFile, CertFile, KeyFile string
	// VerifyServerHostname makes outgoing RPC check that the server's
	// certificate names ServerName(Region), and incoming raft check the
	// same of the dialling server.
	VerifyServerHostname bool
	// VerifyHTTPSClient makes the HTTPS API require a client certificate
	// signed by the CA.
	VerifyHTTPSClient bool
	// Region is the agent's region, which server names include.
	Region string
}

// Loaded is a Config with its files read and checked, ready to hand out
// tls.Configs. It is safe for concurrent use.
type Loaded struct {
	cfg  Config
	pool *x509.CertPool
	cert tls.Certificate
}

// Load reads and checks the CA, certificate and key files: each must
// exist and parse, the certificate must match the key, and it must be
// signed by the CA and not have expired.
func Load(cfg Config) (*Loaded, error) {
	pool, err := LoadCAFile(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	cert, err := LoadKeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	if err := checkSignedBy(cert, pool, time.Now()); err != nil {
		return nil, fmt.Errorf("cert_file %s: %w", cfg.CertFile, err)
	}
	return &Loaded{cfg: cfg, pool: pool, cert: cert}, nil
}

// LoadCAFile reads a PEM file of one or more CA certificates.
func LoadCAFile(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, errors.New("ca_file is not set")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca_file %s: certificate %d does not parse: %w", path, n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("ca_file %s: no PEM certificate found", path)
	}
	return pool, nil
}

// LoadKeyPair reads a PEM certificate (with any intermediates after it)
// and its PEM private key, and checks that they belong together.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	switch {
	case certFile == "" && keyFile == "":
		return tls.Certificate{}, errors.New("cert_file and key_file are not set")
	case certFile == "":
		return tls.Certificate{}, errors.New("cert_file is not set")
	case keyFile == "":
		return tls.Certificate{}, errors.New("key_file is not set")
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cert_file: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key_file: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cert_file %s and key_file %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

// checkSignedBy reports whether cert's leaf chains up to a CA in pool and
// is valid at now.
func checkSignedBy(cert tls.Certificate, pool *x509.CertPool, now time.Time) error {
	leaf, inter, err := parseChain(cert.Certificate)
	if err != nil {
		return err
	}
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("the certificate expired on %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots: pool, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("the certificate is not signed by the CA in ca_file: %w", err)
	}
	return nil
}

func parseChain(raw [][]byte) (*x509.Certificate, *x509.CertPool, error) {
	if len(raw) == 0 {
		return nil, nil, errors.New("no certificate")
	}
	certs := make([]*x509.Certificate, 0, len(raw))
	for _, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, nil, err
		}
		certs = append(certs, c)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	return certs[0], inter, nil
}

// Config returns the settings the Loaded was made from.
func (l *Loaded) Config() Config { return l.cfg }

// CAPool is the pool of CA certificates.
func (l *Loaded) CAPool() *x509.CertPool { return l.pool }

// IncomingRPC is the configuration of the RPC port: every peer must
// present a certificate signed by the CA.
func (l *Loaded) IncomingRPC() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{l.cert},
		ClientCAs:    l.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
}

// OutgoingRPC is the configuration for dialling a server's RPC port: the
// agent presents its certificate and checks the server's, against the CA
// and, with VerifyServerHostname, against ServerName(Region).
func (l *Loaded) OutgoingRPC() *tls.Config {
	if l.cfg.VerifyServerHostname {
		return &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{l.cert},
			RootCAs:      l.pool,
			ServerName:   ServerName(l.cfg.Region),
		}
	}
	return l.chainOnly(x509.ExtKeyUsageServerAuth)
}

// RaftServerName is the name an incoming raft connection's certificate
// must carry, or "" when any CA-signed certificate will do.
func (l *Loaded) RaftServerName() string {
	if l.cfg.VerifyServerHostname {
		return ServerName(l.cfg.Region)
	}
	return ""
}

// IncomingHTTP is the configuration of the HTTPS API: a client
// certificate is asked for only with VerifyHTTPSClient, and then required.
func (l *Loaded) IncomingHTTP() *tls.Config {
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{l.cert},
	}
	if l.cfg.VerifyHTTPSClient {
		c.ClientCAs = l.pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c
}

// OutgoingHTTP is the configuration for one agent forwarding an API
// request to another's HTTPS API: it presents its certificate (which
// verify_https_client asks for) and checks the other's against the CA.
// Agents are reached by address, so names are not checked.
func (l *Loaded) OutgoingHTTP() *tls.Config { return l.chainOnly(x509.ExtKeyUsageServerAuth) }

// chainOnly verifies the peer's certificate against the CA and for usage,
// but not its name: Go's own check needs a name, so it is turned off and
// done here instead.
func (l *Loaded) chainOnly(usage x509.ExtKeyUsage) *tls.Config {
	pool := l.pool
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		Certificates:       []tls.Certificate{l.cert},
		RootCAs:            pool,
		InsecureSkipVerify: true, // VerifyConnection checks the chain
		VerifyConnection: func(cs tls.ConnectionState) error {
			return VerifyChain(cs.PeerCertificates, pool, usage, "")
		},
	}
}

// VerifyChain checks that certs (leaf first) chain up to a CA in pool, are
// good for usage and, when name is not empty, that the leaf names it.
func VerifyChain(certs []*x509.Certificate, pool *x509.CertPool, usage x509.ExtKeyUsage, name string) error {
	if len(certs) == 0 {
		return errors.New("tls: the peer presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots: pool, Intermediates: inter, DNSName: name, KeyUsages: []x509.ExtKeyUsage{usage},
	})
	return err
}

// HasName reports whether the certificate leaf is valid for name.
func HasName(leaf *x509.Certificate, name string) bool {
	return leaf != nil && (leaf.VerifyHostname(name) == nil || slices.Contains(leaf.DNSNames, name))
}
