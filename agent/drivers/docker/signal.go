package docker

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"

	"drover/agent/drivers"
)

var _ drivers.Signaler = (*Driver)(nil)

// SignalTask sends the signal to the container's main process with a kill
// request, as "docker kill --signal" does.
func (d *Driver) SignalTask(taskID string, signal string) error {
	t, err := d.get(taskID)
	if err != nil {
		return err
	}
	name, _, err := drivers.ParseSignal(signal)
	if err != nil {
		return fmt.Errorf("docker: signal %s: %w", taskID, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	if err := d.cli.ContainerKill(ctx, t.containerID, name); err != nil {
		if cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) {
			return fmt.Errorf("docker: signal %s: %w", taskID, drivers.ErrNotRunning)
		}
		return fmt.Errorf("docker: signal %s: %w", taskID, err)
	}
	return nil
}
