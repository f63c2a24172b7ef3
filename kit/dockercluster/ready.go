package dockercluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/nomad/api"
)

// health is what the server says of the cluster.
type health struct {
	leader string
	ready  int
	nodes  map[string]string // node name → status
}

// Health asks the cluster's server (through its loopback address) for
// the leader and each client node's status.
func Health(ctx context.Context, st *Cluster) (leader string, nodes map[string]string, err error) {
	h, err := ask(ctx, st)
	if err != nil {
		return "", nil, err
	}
	return h.leader, h.nodes, nil
}

func ask(ctx context.Context, st *Cluster) (*health, error) {
	cli, err := APIClient(st)
	if err != nil {
		return nil, err
	}
	q := (&api.QueryOptions{}).WithContext(ctx)
	leader, err := cli.Status().Leader()
	if err != nil {
		return nil, err
	}
	if leader == "" {
		return nil, errors.New("no leader yet")
	}
	stubs, _, err := cli.Nodes().List(q)
	if err != nil {
		return nil, err
	}
	h := &health{leader: leader, nodes: map[string]string{}}
	for _, n := range stubs {
		h.nodes[n.Name] = n.Status
		if n.Status == "ready" {
			h.ready++
		}
	}
	return h, nil
}

// waitReady polls until there is a leader and clients nodes are ready.
func waitReady(ctx context.Context, st *Cluster, clients int) (*health, error) {
	var last error
	for {
		h, err := ask(ctx, st)
		if err == nil && h.ready >= clients {
			return h, nil
		}
		if err == nil {
			err = fmt.Errorf("%d of %d clients ready (%v)", h.ready, clients, h.nodes)
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, last
		case <-time.After(250 * time.Millisecond):
		}
	}
}
