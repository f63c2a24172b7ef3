package agent

import (
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"strings"

	"drover/agent/config"
	"drover/agent/tlsutil"
)

// security is what the tls block and server.encrypt turn into: nil
// configurations mean plain connections, as without the block.
type security struct {
	// loaded holds the CA and the agent's certificate (nil without TLS).
	loaded *tlsutil.Loaded
	rpc    bool
	http   bool
	// gossipKey encrypts serf (nil: gossip in the clear).
	gossipKey []byte
}

// loadSecurity reads the certificate files and the gossip key.
func loadSecurity(cfg *config.Config) (*security, error) {
	sec := &security{rpc: cfg.TLS.RPC, http: cfg.TLS.HTTP}
	if cfg.TLS.Enabled() {
		l, err := tlsutil.Load(cfg.TLS.Util(cfg.Region))
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		sec.loaded = l
	}
	if cfg.Server.Encrypt != "" {
		key, err := config.DecodeGossipKey(cfg.Server.Encrypt)
		if err != nil {
			return nil, fmt.Errorf("server.encrypt: %w", err)
		}
		sec.gossipKey = key
	}
	return sec, nil
}

// rpcLoaded is the TLS of the RPC port, or nil.
func (s *security) rpcLoaded() *tlsutil.Loaded {
	if s.rpc {
		return s.loaded
	}
	return nil
}

// outgoingRPC is how the agent dials servers, or nil for plain RPC.
func (s *security) outgoingRPC() *tls.Config {
	if s.rpc {
		return s.loaded.OutgoingRPC()
	}
	return nil
}

// httpListener wraps the API's listener in TLS when tls.http is on.
func (s *security) httpListener(l net.Listener) net.Listener {
	if s.http {
		return tls.NewListener(l, s.loaded.IncomingHTTP())
	}
	return l
}

// forwardHTTP is how API requests are forwarded to other agents, or nil
// for plain HTTP.
func (s *security) forwardHTTP() *tls.Config {
	if s.http {
		return s.loaded.OutgoingHTTP()
	}
	return nil
}

// logLines writes each line it is given to a logger, after a level.
type logLines struct {
	logger *log.Logger
	level  string
}

func (w logLines) Write(p []byte) (int, error) {
	w.logger.Print(w.level + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
