title       = "Draining a client"
level       = "intermediate"
topology    = "server-and-two-clients"
jobs        = ["example"]
images      = ["redis:3.2"]
description = <<-EOT
  Before a client is shut down it is drained: it stops taking new work and its
  allocations migrate to other clients, one at a time under the job's migrate
  block. You run three allocations over two clients, drain client-one, watch
  everything move to client-two, and make client-one eligible again.
EOT

file "example.nomad" {
  content = <<-EOT
    job "example" {
      datacenters = ["dc1"]

      update {
        min_healthy_time = "1s"
      }

      group "cache" {
        count = 3

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
            cpu    = 500
            memory = 256
          }
        }
      }
    }
  EOT
}

step "run" {
  title        = "Three allocations over two clients"
  instructions = <<-EOT
    The lab gave you `example.nomad`: three allocations, and a migrate block
    that says how they leave a draining node: one at a time, each replacement
    healthy for `min_healthy_time` (1s here) before the next leaves. Run it.
  EOT
  commands = ["drover job run example.nomad", "drover status example"]
  hints    = ["`drover job run example.nomad`"]
  why      = "The scheduler spreads a group's allocations over the clients: both run some."

  solution {
    run "job run example.nomad" {}
  }

  check "allocs" {
    count         = 3
    client_status = "running"
    nodes         = 2
  }
  check "deployment" {
    status = "successful"
  }
}

step "drain" {
  title        = "Drain client-one"
  instructions = <<-EOT
    `node drain -enable` marks a node ineligible and migrates its
    allocations; without `-detach` it follows the drain until the node is
    empty. client-one's ID is {{node:client-one}} (`drover node status`).
  EOT
  commands = ["drover node drain -enable -yes {{node:client-one}}", "drover node status"]
  hints = [
    "`drover node status` shows each node's ID and name.",
    "`drover node drain -enable -yes <client-one's ID>`",
  ]
  why = "A drained node takes no new work: its allocations were replaced on client-two, one at a time as the migrate block says."

  solution {
    run "node drain -enable -yes {{node:client-one}}" {
      expect = ["*drain strategy set*"]
    }
    run "node status" {
      expect = ["*client-one*false*ineligible*ready*", "*client-two*false*eligible*ready*"]
    }
  }

  check "node" {
    name        = "client-one"
    eligibility = "ineligible"
  }
  check "allocs" {
    count         = 3
    client_status = "running"
    node          = "client-two"
  }
  check "allocs" {
    node  = "client-one"
    count = 0
  }
}

step "eligible" {
  title        = "Take client-one back"
  instructions = "A drained node stays ineligible until you say otherwise."
  commands     = ["drover node eligibility -enable {{node:client-one}}", "drover node status"]
  hints        = ["`drover node eligibility -enable <ID>`"]
  why          = "Eligibility is the scheduler's permission to place work on the node; running allocations do not move back by themselves."

  solution {
    run "node eligibility -enable {{node:client-one}}" {
      expect = ["*eligible for scheduling*"]
    }
    run "node status" {
      expect = ["*client-one*false*eligible*ready*"]
    }
  }

  check "node" {
    name        = "client-one"
    eligibility = "eligible"
    drain       = false
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
