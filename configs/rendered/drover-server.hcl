# drover-server: a server of the lab cluster (192.168.56.101 on 192.168.56.0/24).
# Rendered from configs/templates/server.hcl.tmpl and cluster.yaml by
# `drover cluster render`: change those, not this file.

# Chatty logs make it easier to follow leader election and client
# registration while the cluster is being brought up.
log_level = "DEBUG"

# Raft logs and snapshots. Not /tmp, which a reboot wipes.
data_dir = "/opt/drover"

# The machine's hostname, so node and server listings read like the lab.
name = "drover-server"

# Listen on the lab network only ...
bind_addr = "192.168.56.101"

addresses {
  # ... except the HTTP API, which also answers on the other interfaces:
  # the port forwarded to the host arrives on the NAT interface.
  http = "0.0.0.0"
}

server {
  enabled = true

  # The number of servers in cluster.yaml: with one, it elects itself
  # leader at once; production clusters run 3 or 5.
  bootstrap_expect = 1
}

# What the other machines use to reach this one: its lab-network address,
# never the NAT address every VM shares.
advertise {
  http = "192.168.56.101:4646"
  rpc  = "192.168.56.101:4647"
  serf = "192.168.56.101:4648"
}
