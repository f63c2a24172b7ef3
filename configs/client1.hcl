# Client 1 of the three-machine lab cluster (192.168.56.102).
# Start it with: drover agent -config configs/client1.hcl

# Verbose logs help when checking that tasks are placed and started.
log_level = "DEBUG"

# Allocation directories and client state go here. Each client needs its
# own directory, which matters when both run on the same machine.
data_dir = "/tmp/client1"

# A fixed, distinct name so the two clients are easy to tell apart.
name = "client-one"

client {
  enabled = true

  # Where to register. The server's RPC port is 4647; a bare host would
  # get that port anyway, it is spelled out here for clarity.
  servers = ["192.168.56.101:4647"]

  # Fingerprint the private lab network rather than the NAT interface, so
  # allocations get addresses that the other machines can reach.
  network_interface = "eth1"
}

# Announce the lab-network address; the default guess could pick the NAT
# interface, which other machines cannot reach.
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
  }
}

# Enable the raw_exec driver, which runs commands without isolation. Handy
# in a lab; think twice before doing this on shared machines.
plugin "raw_exec" {
  config {
    enabled = true
  }
}
