# client-one: a client of the lab cluster (192.168.56.102 on 192.168.56.0/24).
# Rendered from configs/templates/client.hcl.tmpl and cluster.yaml by
# `drover cluster render`: change those, not this file.

# Verbose logs help when checking that tasks are placed and started.
log_level = "DEBUG"

# Allocation directories and client state: one per machine, and not /tmp,
# which a reboot wipes.
data_dir = "/var/lib/drover-cluster/lab/drover-client01"

# The machine's hostname, so the two clients are easy to tell apart.
name = "client-one"

# Listen on the lab network only.
bind_addr = "192.168.56.102"

client {
  enabled = true

  # The servers' RPC addresses, from cluster.yaml.
  servers = ["192.168.56.101:4647"]

  # The interface that holds 192.168.56.102, found by its address: allocations
  # get addresses the other machines can reach, not the NAT one.
  network_interface = "eth0"
}

advertise {
  http = "192.168.56.102:4646"
  rpc  = "192.168.56.102:4647"
  serf = "192.168.56.102:4648"
}

# Allow Docker tasks to mount host volumes (off by default for safety).
plugin "docker" {
  config {
    volumes {
      enabled = true
    }

    # This machine is a container using the host's Docker: tasks join the
    # lab network and the client forwards their ports from 192.168.56.102, so a
    # task answers at its allocation's address as it would on a VM.
    task_network = "drover-lab"
  }
}

# Enable the raw_exec driver, which runs commands without isolation. Handy
# in a lab; think twice before doing this on shared machines.
plugin "raw_exec" {
  config {
    enabled = true
  }
}
