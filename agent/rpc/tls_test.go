package rpc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"drover/agent/tlsutil"
	"drover/testutil/tlstest"
)

// startTLSServer serves Echo on a Mux that requires TLS with a server
// certificate of region from ca.
func startTLSServer(t *testing.T, ca *tlstest.CA, region string, verifyServerHostname bool) *testServer {
	t.Helper()
	l := ca.Loaded(t, tlsutil.KindServer, region, verifyServerHostname)
	return startServer(t, "127.0.0.1:0", func(m *Mux) {
		m.SetTLS(&MuxTLS{Config: l.IncomingRPC(), RaftServerName: l.RaftServerName()})
	})
}

func tlsPool(t *testing.T, l *tlsutil.Loaded) *Pool {
	p := newTestPool(t)
	p.SetTLS(l.OutgoingRPC())
	return p
}

func callUpper(p *Pool, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var reply string
	err := p.Call(ctx, addr, "Echo.Upper", "tls", &reply)
	return reply, err
}

func TestTLS_MutualRPCWithCASignedCertificates(t *testing.T) {
	ca := tlstest.NewCA(t)
	ts := startTLSServer(t, ca, "global", true)
	p := tlsPool(t, ca.Loaded(t, tlsutil.KindClient, "global", true))
	if reply, err := callUpper(p, ts.addr); err != nil || reply != "TLS" {
		t.Fatalf("call over mutual TLS = %q, %v; want \"TLS\"", reply, err)
	}
}

func TestTLS_PlainConnectionRefusedWhenTLSIsOn(t *testing.T) {
	ca := tlstest.NewCA(t)
	ts := startTLSServer(t, ca, "global", false)
	if _, err := callUpper(newTestPool(t), ts.addr); err == nil {
		t.Fatal("a plain call to a TLS-only port succeeded")
	}
	waitFor(t, "the refusal in the log", func() bool {
		return strings.Contains(ts.logs.String(), "TLS is required")
	})
}

func TestTLS_ClientCertificateFromAnotherCARefused(t *testing.T) {
	ca, other := tlstest.NewCA(t), tlstest.NewCA(t)
	ts := startTLSServer(t, ca, "global", false)
	// The client trusts the server's CA, but its own certificate is signed
	// by another CA: the server must refuse it.
	stranger := other.Loaded(t, tlsutil.KindClient, "global", false)
	cfg := stranger.OutgoingRPC()
	cfg.RootCAs = ca.Loaded(t, tlsutil.KindClient, "global", false).CAPool()
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		return tlsutil.VerifyChain(cs.PeerCertificates, cfg.RootCAs, x509.ExtKeyUsageServerAuth, "")
	}
	p := newTestPool(t)
	p.SetTLS(cfg)
	if reply, err := callUpper(p, ts.addr); err == nil {
		t.Fatalf("a client with a certificate from another CA got an answer: %q", reply)
	}
	waitFor(t, "the refused handshake in the log", func() bool {
		return strings.Contains(ts.logs.String(), "refused a TLS connection")
	})
}

func TestTLS_ServerCertificateFromAnotherCARefusedByClient(t *testing.T) {
	ca, other := tlstest.NewCA(t), tlstest.NewCA(t)
	ts := startTLSServer(t, other, "global", false)
	p := tlsPool(t, ca.Loaded(t, tlsutil.KindClient, "global", false))
	_, err := callUpper(p, ts.addr)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("call to a server with a certificate from another CA: %v; want a certificate error", err)
	}
}

func TestTLS_VerifyServerHostnameRefusesWrongRegion(t *testing.T) {
	ca := tlstest.NewCA(t)
	// A server whose certificate is for region europe (server.europe.nomad),
	// signed by the right CA.
	ts := startTLSServer(t, ca, "europe", false)

	strict := tlsPool(t, ca.Loaded(t, tlsutil.KindClient, "global", true))
	_, err := callUpper(strict, ts.addr)
	if err == nil || !strings.Contains(err.Error(), "server.global.nomad") {
		t.Fatalf("with verify_server_hostname, a call to server.europe.nomad: %v; want refused for server.global.nomad", err)
	}

	// Without verify_server_hostname the same server is trusted: the CA
	// signed it.
	lax := tlsPool(t, ca.Loaded(t, tlsutil.KindClient, "global", false))
	if reply, err := callUpper(lax, ts.addr); err != nil || reply != "TLS" {
		t.Fatalf("without verify_server_hostname: %q, %v; want \"TLS\"", reply, err)
	}
}

func TestTLS_VerifyServerHostnameRefusesClientCertificateAsServer(t *testing.T) {
	ca := tlstest.NewCA(t)
	l := ca.Loaded(t, tlsutil.KindClient, "global", false)
	ts := startServer(t, "127.0.0.1:0", func(m *Mux) { m.SetTLS(&MuxTLS{Config: l.IncomingRPC()}) })
	p := tlsPool(t, ca.Loaded(t, tlsutil.KindClient, "global", true))
	if _, err := callUpper(p, ts.addr); err == nil {
		t.Fatal("a server presenting a client certificate was trusted with verify_server_hostname")
	}
}

func TestTLS_RaftOverTLSNeedsServerCertificate(t *testing.T) {
	ca := tlstest.NewCA(t)
	ts := startTLSServer(t, ca, "global", true)
	layer := NewRaftLayer(ts.mux, nil)
	t.Cleanup(func() { layer.Close() })

	accepted := make(chan string, 4)
	go func() {
		for {
			c, err := layer.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			b := make([]byte, 4)
			_, err = io.ReadFull(c, b)
			c.Close()
			if err == nil {
				accepted <- string(b)
			}
		}
	}()

	dial := func(l *tlsutil.Loaded) error {
		out := &RaftLayer{}
		out.SetTLS(l.OutgoingRPC())
		c, err := out.Dial(raft.ServerAddress(ts.addr), 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("ping"))
		return err
	}

	// A client's certificate is signed by the CA but does not name
	// server.global.nomad: no raft connection is delivered.
	if err := dial(ca.Loaded(t, tlsutil.KindClient, "global", true)); err != nil {
		t.Fatalf("dial with a client certificate: %v", err)
	}
	waitFor(t, "the refused raft connection in the log", func() bool {
		return strings.Contains(ts.logs.String(), "not valid for server.global.nomad")
	})
	select {
	case got := <-accepted:
		t.Fatalf("raft accepted %q from a client certificate", got)
	default:
	}

	if err := dial(ca.Loaded(t, tlsutil.KindServer, "global", true)); err != nil {
		t.Fatalf("dial with a server certificate: %v", err)
	}
	select {
	case got := <-accepted:
		if got != "ping" {
			t.Fatalf("raft read %q, want ping", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("raft connection from a server certificate was not delivered")
	}
}
