package tlsutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// CAOptions shape a lab CA.
type CAOptions struct {
	// Days is how long the CA is valid; 0 means five years.
	Days int
	// CommonName names the CA; "" means "Drover Agent CA <serial>".
	CommonName string
	// PermittedDomains, when set, are the only DNS domains the
	// certificates the CA signs may name (an X.509 name constraint).
	PermittedDomains []string
}

// GenerateCA makes a self-signed CA with an ECDSA P-256 key and returns
// the certificate and the key, PEM encoded.
func GenerateCA(opts CAOptions) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, err
	}
	days := opts.Days
	if days <= 0 {
		days = 5 * 365
	}
	cn := opts.CommonName
	if cn == "" {
		cn = "Drover Agent CA " + serial.String()
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Drover"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.AddDate(0, 0, days),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	if len(opts.PermittedDomains) > 0 {
		tmpl.PermittedDNSDomainsCritical = true
		tmpl.PermittedDNSDomains = opts.PermittedDomains
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// Kind is what a certificate is for.
type Kind string

// The three kinds of certificate "drover tls cert create" makes.
const (
	KindServer Kind = "server"
	KindClient Kind = "client"
	KindCLI    Kind = "cli"
)

// CertOptions shape an agent or CLI certificate.
type CertOptions struct {
	// CACert and CAKey are the signing CA's certificate and key, PEM.
	CACert, CAKey []byte
	Kind          Kind
	// Region and Domain make the certificate's name,
	// <kind>.<region>.<domain>; "" means "global" and "nomad".
	Region, Domain string
	// Days is how long the certificate is valid; 0 means one year.
	Days int
	// DNSNames and IPAddresses are added to the names every certificate
	// carries: its own name and localhost, and 127.0.0.1 for agents.
	DNSNames    []string
	IPAddresses []net.IP
}

// Name is the certificate's main name, <kind>.<region>.<domain>.
func (o CertOptions) Name() string {
	region, domain := o.Region, o.Domain
	if region == "" {
		region = "global"
	}
	if domain == "" {
		domain = Domain
	}
	return string(o.Kind) + "." + region + "." + domain
}

// GenerateCert makes a certificate signed by the CA, with a new ECDSA
// P-256 key, and returns both PEM encoded. Server and client certificates
// serve and dial (agents do both); CLI certificates only dial.
func GenerateCert(opts CertOptions) (certPEM, keyPEM []byte, err error) {
	switch opts.Kind {
	case KindServer, KindClient, KindCLI:
	default:
		return nil, nil, fmt.Errorf("unknown certificate kind %q", opts.Kind)
	}
	caCert, caKey, err := parseCA(opts.CACert, opts.CAKey)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, err
	}
	days := opts.Days
	if days <= 0 {
		days = 365
	}
	name := opts.Name()
	dns := appendNew([]string{name, "localhost"}, opts.DNSNames...)
	var ips []net.IP
	usage := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	if opts.Kind == KindCLI {
		usage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		ips = append(ips, net.IPv4(127, 0, 0, 1))
	}
	for _, ip := range opts.IPAddresses {
		if !containsIP(ips, ip) {
			ips = append(ips, ip)
		}
	}
	now := time.Now()
	notAfter := now.AddDate(0, 0, days)
	if notAfter.After(caCert.NotAfter) {
		return nil, nil, fmt.Errorf("the certificate would outlive its CA, which expires on %s; use fewer -days",
			caCert.NotAfter.UTC().Format("2006-01-02"))
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           usage,
		DNSNames:              dns,
		IPAddresses:           ips,
		AuthorityKeyId:        caCert.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// parseCA reads a CA certificate and its private key from PEM.
func parseCA(certPEM, keyPEM []byte) (*x509.Certificate, crypto.Signer, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil, errors.New("the CA file holds no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("the CA certificate does not parse: %w", err)
	}
	if !cert.IsCA {
		return nil, nil, errors.New("the CA file's certificate is not a CA")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, errors.New("the CA key file holds no PEM key")
	}
	var key any
	switch kb.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(kb.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("the CA key does not parse: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("the CA key cannot sign")
	}
	if !publicKeysEqual(signer.Public(), cert.PublicKey) {
		return nil, nil, errors.New("the CA key does not belong to the CA certificate")
	}
	return cert, signer, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// serialNumber is a random 128-bit serial, as RFC 5280 wants them
// unpredictable and unique per CA.
func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

func appendNew(list []string, more ...string) []string {
	for _, m := range more {
		if m != "" && !slices.Contains(list, m) {
			list = append(list, m)
		}
	}
	return list
}

func containsIP(ips []net.IP, ip net.IP) bool {
	for _, x := range ips {
		if x.Equal(ip) {
			return true
		}
	}
	return false
}
