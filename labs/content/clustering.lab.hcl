title       = "A cluster that survives: spreading, a lost client, a server restart"
level       = "intermediate"
topology    = "server-and-two-clients"
jobs        = ["example"]
images      = ["redis:3.2"]
description = <<-EOT
  The simple cluster tutorial: a server and the clients client-one and
  client-two. You run three allocations and see them spread over both
  clients, stop a client and watch its work rescheduled on the other, bring
  it back, and restart the server to see that the cluster's state survives.
EOT

step "members" {
  title        = "The server and its clients"
  instructions = <<-EOT
    `server members` lists the servers (one, the leader), `node status` the
    clients that joined it.
  EOT
  commands = ["drover server members", "drover node status"]
  hints    = ["Neither command takes an argument."]
  why      = "Each client found the server through its `servers` setting and registered its node."

  solution {
    run "server members" {
      expect = ["*alive*true*"]
    }
    run "node status" {
      expect = ["*client-one*ready*", "*client-two*ready*"]
    }
  }

  check "nodes" {
    status = "ready"
    count  = 2
  }
  check "output" {
    run      = "server members"
    contains = "alive"
  }
}

step "spread" {
  title        = "Three allocations over two clients"
  instructions = <<-EOT
    Write the short example job, give its group "cache" `count = 3`, and run
    it. `drover status example` shows on which node each allocation runs.
  EOT
  commands = ["drover job init -short", "edit example.nomad: count = 3", "drover job run example.nomad", "drover status example"]
  hints = [
    "Add `count = 3` on the line after `group \"cache\" {`.",
    "The Node ID column of `drover status example` has two different IDs.",
  ]
  why = "The scheduler scores a node lower for each allocation of the same job it already runs: the three spread over both clients."

  solution {
    run "job init -short" {}
    edit "example.nomad" {
      replace = "group \"cache\" {"
      with    = "group \"cache\" {\n    count = 3\n"
    }
    run "job run example.nomad" {}
  }

  check "allocs" {
    count         = 3
    client_status = "running"
    nodes         = 2
  }
  check "deployment" {
    status = "successful"
    wait   = "2m"
  }
}

step "lose-client" {
  title        = "A client stops"
  instructions = <<-EOT
    Stop client-two: `drover lab agent stop client-two` (on the kit,
    `vagrant halt client-two`). Its heartbeats stop; the server marks the node
    down after its heartbeat TTL and grace, and its allocations lost. The
    scheduler replaces them on client-one. Watch `drover status example`.
  EOT
  commands = ["drover lab agent stop client-two", "drover node status", "drover status example"]
  hints    = ["It takes a few seconds for the server to notice: run `drover node status` again."]
  why      = "A node that misses its heartbeats is down; its allocations are lost and replaced where there is room: all three run on client-one."

  solution {
    run "lab agent stop client-two" {}
  }

  check "node" {
    name   = "client-two"
    status = "down"
    wait   = "1m"
  }
  check "allocs" {
    desired       = "stop"
    client_status = "lost"
  }
  check "allocs" {
    count         = 3
    client_status = "running"
    node          = "client-one"
  }
}

step "return" {
  title        = "The client comes back"
  instructions = <<-EOT
    Start client-two again (`drover lab agent start client-two`). It
    re-registers with the same node ID and is ready for new work; the running
    allocations stay where they are.
  EOT
  commands = ["drover lab agent start client-two", "drover node status"]
  hints    = ["`drover lab agent` lists the agents and whether they run."]
  why      = "The client kept its node ID in its data dir: the server sees the same node ready again."

  solution {
    run "lab agent start client-two" {}
  }

  check "nodes" {
    status = "ready"
    count  = 2
  }
  check "allocs" {
    count         = 3
    client_status = "running"
  }
}

step "restart-server" {
  title        = "Restart the server: nothing is lost"
  instructions = <<-EOT
    The server keeps the cluster's state in its raft log and snapshots, in
    its data dir. Restart it (`drover lab agent restart server`; on the kit,
    `sudo systemctl restart drover` on the server), then look at the job:
    same version, same allocations.
  EOT
  commands = ["drover lab agent restart server", "drover server members", "drover status example"]
  hints    = ["The restart takes a few seconds; the clients reconnect by themselves."]
  why      = "The server restored jobs, allocations and nodes from its raft state and was elected leader again; the clients kept their tasks running."

  solution {
    run "lab agent restart server" {}
    run "server members" {
      expect = ["*alive*true*"]
    }
  }

  check "job" {
    status  = "running"
    version = 0
  }
  check "allocs" {
    count         = 3
    client_status = "running"
  }
  check "nodes" {
    status = "ready"
    count  = 2
  }
}

step "stop" {
  title        = "Stop the job"
  instructions = "Stop the job before you leave."
  commands     = ["drover job stop example"]
  hints        = ["`drover job stop example`"]
  why          = "Nothing of the lab keeps running."

  solution {
    run "job stop example" {}
  }

  check "job" {
    status = "dead"
  }
}
