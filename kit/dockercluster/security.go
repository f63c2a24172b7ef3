package dockercluster

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/hashicorp/nomad/api"

	"drover/kit/labpki"
	"drover/kit/topology"
)

// secrets are what an acl+tls cluster's machines share: the lab CA (kept
// on the host, in the cluster's state directory) and the gossip key.
type secrets struct {
	pki    *labpki.PKI
	gossip string
}

func newSecrets(dir string) (*secrets, error) {
	p, err := labpki.Open(dir, "")
	if err != nil {
		return nil, fmt.Errorf("lab CA: %w", err)
	}
	key, err := p.GossipKey()
	if err != nil {
		return nil, err
	}
	// The student's certificate, for the CLI on the host.
	if _, _, err := p.CLI(); err != nil {
		return nil, err
	}
	return &secrets{pki: p, gossip: key}, nil
}

func networkLabels(name string, c *topology.Cluster, sec *secrets) map[string]string {
	l := map[string]string{LabelCluster: name, LabelSource: c.File, LabelSecurity: c.Security}
	if sec != nil {
		l[LabelPKI] = sec.pki.Dir
	}
	return l
}

// APIClient is a client of the cluster's server through its loopback
// address, with the CLI's certificate and the management token when the
// cluster has them.
func APIClient(st *Cluster) (*api.Client, error) {
	if st.HostAddress == "" {
		return nil, errors.New("the server publishes no HTTP port")
	}
	cfg := &api.Config{Address: st.HostAddress, WaitTime: time.Second, SecretID: st.Token}
	if st.TLS != nil {
		cfg.TLSConfig = &api.TLSConfig{CACert: st.TLS.CACert, ClientCert: st.TLS.ClientCert, ClientKey: st.TLS.ClientKey}
	}
	return api.NewClient(cfg)
}

// Bootstrap creates the cluster's management token and keeps it in the
// server's container (TokenFile, mode 0600). On a cluster already
// bootstrapped it reuses the kept token: fresh tells which happened.
func Bootstrap(ctx context.Context, cli *client.Client, st *Cluster) (token string, fresh bool, err error) {
	c, err := APIClient(&Cluster{HostAddress: st.HostAddress, TLS: st.TLS})
	if err != nil {
		return "", false, err
	}
	tok, _, err := c.ACLTokens().Bootstrap((&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		if !strings.Contains(err.Error(), "ACL bootstrap already done") {
			return "", false, fmt.Errorf("acl bootstrap: %w", err)
		}
		kept, rerr := readToken(ctx, cli, st.ServerContainer)
		if rerr != nil || kept == "" {
			return "", false, fmt.Errorf("ACLs were bootstrapped already and %s holds no token (%v): reset the bootstrap as the README's access control section says", TokenFile, rerr)
		}
		return kept, false, nil
	}
	if err := writeToken(ctx, cli, st.ServerContainer, tok.SecretID); err != nil {
		return "", false, err
	}
	return tok.SecretID, true, nil
}

// writeToken puts the token into the server's container, readable by
// root alone.
func writeToken(ctx context.Context, cli *client.Client, ctr, token string) error {
	tarball, err := tarFiles(map[string]fileEntry{TokenFile: {data: []byte(token + "\n"), mode: 0o600}})
	if err != nil {
		return err
	}
	if err := cli.CopyToContainer(ctx, ctr, "/", bytes.NewReader(tarball), container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("keep the management token in %s: %w", ctr, err)
	}
	return nil
}

// readToken reads the kept management token from the server's container;
// "" when there is none yet.
func readToken(ctx context.Context, cli *client.Client, ctr string) (string, error) {
	rc, _, err := cli.CopyFromContainer(ctx, ctr, TokenFile)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			return "", err
		}
		if path.Base(h.Name) == path.Base(TokenFile) {
			b, err := io.ReadAll(tr)
			return strings.TrimSpace(string(b)), err
		}
	}
}

// waitLeader polls until the server has a leader; the leader's address
// is open to anonymous requests.
func waitLeader(ctx context.Context, st *Cluster) error {
	c, err := APIClient(&Cluster{HostAddress: st.HostAddress, TLS: st.TLS})
	if err != nil {
		return err
	}
	for {
		leader, err := c.Status().Leader()
		if err == nil && leader != "" {
			return nil
		}
		if err == nil {
			err = errors.New("no leader yet")
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}
