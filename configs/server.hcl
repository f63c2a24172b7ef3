# Single server of the three-machine lab cluster (192.168.56.101).
# Start it with: drover agent -config configs/server.hcl

# Chatty logs make it easier to follow leader election and client
# registration while the cluster is being brought up.
log_level = "DEBUG"

# Raft logs and snapshots live here. /tmp is fine for a throwaway lab but
# is wiped on reboot, so use a persistent path anywhere else.
data_dir = "/tmp/server1"

# A fixed name instead of the host name keeps node listings readable.
name = "drover-server"

server {
  enabled = true

  # This is the only server, so it may elect itself leader straight away.
  # With more servers, set this to their count (ideally an odd number).
  bootstrap_expect = 1
}

# The VM has several interfaces; announce the one on the private lab
# network so the clients, which only see 192.168.56.0/24, can reach us.
advertise {
  http = "192.168.56.101:4646"
  rpc  = "192.168.56.101:4647"
  serf = "192.168.56.101:4648"
}
