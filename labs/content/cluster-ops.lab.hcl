title       = "Operating the cluster: capacity, job status, logs, draining, scaling down"
level       = "intermediate"
topology    = "server-and-two-clients"
jobs        = ["example", "big"]
images      = ["redis:3.2"]
description = <<-EOT
  The operations guide, on a server and two clients. You count the active
  clients to know the cluster's capacity, read a client's own status, tell
  running, pending and dead jobs apart (with a job pending for lack of
  resources, and what unblocks it), follow logs from a job to its allocation,
  drain a client from the client itself and one remotely, and take a client
  out of the pool.
EOT

file "example.nomad" {
  content = <<-EOT
    job "example" {
      datacenters = ["dc1"]

      update {
        min_healthy_time = "1s"
      }

      group "cache" {
        count = 2

        migrate {
          max_parallel     = 1
          min_healthy_time = "1s"
        }

        network {
          port "db" {
            to = 6379
          }
        }

        task "redis" {
          driver = "docker"

          config {
            image = "redis:3.2"
            ports = ["db"]
          }

          resources {
            cpu    = 100
            memory = 64
          }
        }
      }
    }
  EOT
}

file "big.nomad" {
  content = <<-EOT
    job "big" {
      datacenters = ["dc1"]

      group "big" {
        task "redis" {
          driver = "docker"

          config {
            image = "redis:3.2"
          }

          # More memory than any client has: 10 TB.
          resources {
            cpu    = 100
            memory = 10000000
          }
        }
      }
    }
  EOT
}

step "capacity" {
  title        = "How many clients serve the cluster?"
  instructions = <<-EOT
    `node-status` lists every client the servers know: the ones serving
    (ready) and the ones taken out (down). The cluster's capacity is the
    clients that are ready and eligible: count them.
  EOT
  commands = ["drover node-status"]
  hints    = ["`drover node-status` (or `drover node status`) takes no arguments here."]
  why      = "Both clients registered and heartbeat: two ready, eligible clients are the cluster's capacity."

  solution {
    run "node-status" {
      expect = ["*client-one*ready*", "*client-two*ready*"]
    }
  }

  check "nodes" {
    status      = "ready"
    eligibility = "eligible"
    count       = 2
  }
  check "output" {
    run      = "node-status"
    contains = "client-two"
  }
}

step "self" {
  title        = "A client's own status"
  instructions = <<-EOT
    On a client, `node-status -self` describes that client: its
    allocations and the resources they use. Here the client's agent answers
    at {{addr:client-one}}: pass it with `-address` (on the kit's cluster you
    would log in to client-one and run the command there).
  EOT
  commands = ["drover node-status -self -address {{addr:client-one}}"]
  hints    = ["`-address` points a command at one agent; `-self` asks it for its own node."]
  why      = "A client agent answers for its own node: -self needs no node ID."

  solution {
    run "node-status -self -address {{addr:client-one}}" {
      expect = ["Name*= client-one"]
    }
  }

  check "output" {
    run     = "node-status -self -address {{addr:client-one}}"
    matches = "Name +=  ?client-one"
  }
}

step "status-words" {
  title        = "running, pending and dead"
  instructions = <<-EOT
    The lab gave you two jobs. `example.nomad` fits the cluster; `big.nomad`
    asks for more memory than any client has. Run both, then look at
    `drover status`: the Status column says running (started), pending (not
    enough resources in the cluster) or dead (finished or stopped). Ask
    `drover job status big` why it waits.
  EOT
  commands = ["drover job run example.nomad", "drover job run big.nomad", "drover status", "drover job status big"]
  hints = [
    "`job run` of big.nomad reports a placement failure and a blocked evaluation: that is expected.",
    "`drover job status big` shows \"Placement Failure\" and the dimension exhausted (memory).",
  ]
  why = "No client has 10 TB of memory: the scheduler could not place big, created a blocked evaluation, and the job waits as pending until capacity appears."

  solution {
    run "job run example.nomad" {}
    run "job run big.nomad" {
      exit = 2
    }
    run "status" {
      expect = ["example*service*50*running*", "big*service*50*pending*"]
    }
  }

  check "job" {
    job    = "example"
    status = "running"
  }
  check "job" {
    job    = "big"
    status = "pending"
  }
  check "eval" {
    job                = "big"
    placement_failures = true
    blocked            = true
  }
}

step "unblock" {
  title        = "What unblocks a pending job"
  instructions = <<-EOT
    A pending job runs when the cluster has room for it: a client joins, or
    the job asks for less. Lower big's memory to 64 MB in `big.nomad` and run
    it again. Then stop it and look at its status: dead.
  EOT
  commands = ["edit big.nomad: memory = 64", "drover job run big.nomad", "drover job stop big", "drover status"]
  hints = [
    "The line is `memory = 10000000` in big.nomad's resources.",
    "After `job run big.nomad` it is running; `drover job stop big` makes it dead.",
  ]
  why = "With 64 MB the scheduler placed big at once; stopped, it is dead (stopped) — dead whether its work succeeded or not."

  solution {
    edit "big.nomad" {
      replace = "memory = 10000000"
      with    = "memory = 64"
    }
    run "job run big.nomad" {
      expect = ["*finished with status \"complete\""]
    }
    run "job stop big" {}
    run "status" {
      expect = ["big*service*50*dead (stopped)*"]
    }
  }

  check "allocs" {
    job           = "big"
    desired       = "stop"
    client_status = "complete"
    version       = 1
    count         = 1
  }
  check "job" {
    job     = "big"
    status  = "dead"
    stopped = true
  }
}

step "logs" {
  title        = "From a job to its logs"
  instructions = <<-EOT
    `logs -job -stderr <job>` prints the standard error of one of the job's
    allocations, picked at random. To read a given one: `drover status`
    gives the job, `drover status example` its allocations, and
    `drover logs -stderr <alloc>` that allocation's standard error.
  EOT
  commands = ["drover logs -job -stderr example", "drover status example", "drover logs -stderr <alloc>"]
  hints    = ["The allocation IDs are in the last table of `drover status example`."]
  why      = "A job's logs are its allocations' logs; -job picks any one, an allocation ID names the one you want."

  solution {
    run "logs -job -stderr example" {}
    run "status example" {}
    run "logs -stderr {{alloc}}" {}
  }

  check "task" {
    job   = "example"
    task  = "redis"
    state = "running"
  }
  check "output" {
    run  = "logs -job -stderr example"
    exit = 0
  }
}

step "drain-self" {
  title        = "Drain a client from the client"
  instructions = <<-EOT
    Before a client is shut down it is drained: it takes no new work and its
    allocations move elsewhere. On the client, that is
    `node-drain -self -enable`; then `node-status -self` shows it. Do it on
    client-one (its agent is at {{addr:client-one}}).
  EOT
  commands = [
    "drover node-drain -self -enable -address {{addr:client-one}}",
    "drover node-status -self -address {{addr:client-one}}",
  ]
  hints = [
    "Both commands take -address {{addr:client-one}}, so they act on client-one.",
    "With -self, node-drain asks for no confirmation: you are on the node.",
  ]
  why = "client-one is ineligible and its allocations were replaced on client-two, one at a time as the migrate block says."

  solution {
    run "node-drain -self -enable -address {{addr:client-one}}" {}
    run "node-status -self -address {{addr:client-one}}" {
      expect = ["*ineligible*"]
    }
  }

  check "node" {
    name        = "client-one"
    eligibility = "ineligible"
  }
  check "node" {
    name        = "client-two"
    eligibility = "eligible"
  }
  check "allocs" {
    job           = "example"
    client_status = "running"
    node          = "client-two"
    count         = 2
  }
}

step "scale-down" {
  title        = "Take client-two out of the pool"
  instructions = <<-EOT
    To scale the pool down, drain the client, wait for its work to finish
    or move, then shut it down. Make client-one eligible again (so the work
    has somewhere to go), drain client-two remotely by its ID
    ({{node:client-two}}) with `node-drain -enable -yes <id>`, then shut it
    down: here `drover lab agent stop client-two` (on the kit,
    `vagrant halt client-two`). Count the active clients again.
  EOT
  commands = [
    "drover node eligibility -enable {{node:client-one}}",
    "drover node-drain -enable -yes {{node:client-two}}",
    "drover lab agent stop client-two",
    "drover node-status",
  ]
  hints = [
    "`drover node eligibility -enable <client-one's ID>` first.",
    "After the drain, `drover lab agent stop client-two`; the server marks it down a few seconds later.",
  ]
  why = "Drained first, client-two had nothing left to lose when it stopped: the allocations run on client-one, and one ready client is the capacity now."

  solution {
    run "node eligibility -enable {{node:client-one}}" {}
    run "node-drain -enable -yes {{node:client-two}}" {}
    run "lab agent stop client-two" {}
  }

  check "node" {
    name   = "client-two"
    status = "down"
    wait   = "1m"
  }
  check "allocs" {
    job           = "example"
    client_status = "running"
    node          = "client-one"
    count         = 2
  }
  check "nodes" {
    status = "ready"
    count  = 1
  }
}

step "restore" {
  title        = "Bring client-two back and stop the job"
  instructions = <<-EOT
    Start client-two again (`drover lab agent start client-two`; on the kit,
    `vagrant up client-two`) and make it eligible: a drained node stays
    ineligible. Then stop the example job.
  EOT
  commands = [
    "drover lab agent start client-two",
    "drover node eligibility -enable {{node:client-two}}",
    "drover job stop example",
  ]
  hints = ["The node keeps its ID across the restart: `drover node-status` shows it ready again."]
  why   = "The client came back with its identity; eligible again, it is capacity again."

  solution {
    run "lab agent start client-two" {}
    run "node eligibility -enable {{node:client-two}}" {}
    run "job stop example" {}
  }

  check "nodes" {
    status      = "ready"
    eligibility = "eligible"
    count       = 2
  }
  check "job" {
    job    = "example"
    status = "dead"
  }
}
