title       = "A server and two clients"
level       = "beginner"
topology    = "server-and-two-clients"
jobs        = ["example"]
images      = ["redis:3.2"]
description = <<-EOT
  The second tutorial, on the lab topology: one server and two clients. You run
  the short example job, inspect its evaluation and allocation, scale it to
  three (the scheduler spreads the allocations over both clients) and stop it.
EOT

step "cluster" {
  title        = "The cluster"
  instructions = <<-EOT
    Two client nodes have registered with the server and are ready for work.
    `node status` lists the clients; `server members` lists the servers.
  EOT
  commands = ["drover node status", "drover server members"]
  hints    = ["Both commands take no arguments."]
  why      = "Each client registered with the server and heartbeats; the server is the raft leader of a one-server cluster."

  solution {
    run "node status" {
      expect = ["*client-one*eligible*ready", "*client-two*eligible*ready"]
    }
    run "server members" {
      expect = ["*alive*true*"]
    }
  }

  check "nodes" {
    status      = "ready"
    eligibility = "eligible"
    count       = 2
  }
}

step "plan" {
  title        = "Write and plan the short example job"
  instructions = <<-EOT
    `job init -short` writes the job without comments. Planning a job that
    does not exist yet shows it as added, with one allocation to create.
  EOT
  commands = ["drover job init -short", "drover job plan example.nomad"]
  hints    = ["`drover job init -short`, then `drover job plan example.nomad`."]
  why      = "The job is new: its one group has count = 1, so the plan creates one allocation."

  solution {
    run "job init -short" {
      expect = ["Example job file written to example.nomad"]
    }
    run "job plan example.nomad" {
      expect = ["+ Job: \"example\"", "+ Task Group: \"cache\" (1 create)", "Job Modify Index: 0"]
    }
  }

  check "plan" {
    file   = "example.nomad"
    group  = "cache"
    create = 1
  }
}

step "run" {
  title        = "Run it, and look at its evaluation and allocation"
  instructions = <<-EOT
    Run the job, then look at the evaluation `job run` monitored
    (`eval status <id>`) and at the allocation (`alloc status <id>`).
  EOT
  commands = ["drover job run example.nomad", "drover eval status <eval>", "drover alloc status <alloc>"]
  hints = [
    "`job run` prints the evaluation's ID in \"Monitoring evaluation\".",
    "`drover status example` lists the allocation IDs.",
  ]
  why = "The evaluation was triggered by the job's registration and placed one allocation on one of the two clients."

  solution {
    run "job run example.nomad" {
      expect  = ["Allocation \"* created: node \"*\", group \"cache\""]
      capture = { eval = "Monitoring evaluation \"(\\w+)\"" }
    }
    run "eval status {{eval}}" {
      expect = ["TriggeredBy        = job-register", "Placement Failures = false"]
    }
    run "alloc status {{alloc}}" {
      expect = ["Allocation Addresses", "*db*yes*-> 6379"]
    }
  }

  check "allocs" {
    count         = 1
    client_status = "running"
  }
  check "eval" {
    status             = "complete"
    placement_failures = false
  }
}

step "scale" {
  title        = "Three instances, on both clients"
  instructions = <<-EOT
    Add `count = 3` to the group "cache", plan it and run it with the index
    the plan printed. The existing allocation is updated in place and two
    are created; the scheduler spreads the allocations of a group over the
    clients.
  EOT
  commands = ["edit example.nomad: count = 3 in group \"cache\"", "drover job plan example.nomad", "drover job run -check-index <index> example.nomad"]
  hints = [
    "The short job has no count line: add `count = 3` inside `group \"cache\" {`.",
    "The plan should say (2 create, 1 in-place update).",
  ]
  why = "Placing three allocations over two equal clients, the scheduler prefers the node with fewer allocations of the job: two on one client, one on the other."

  solution {
    edit "example.nomad" {
      replace = "group \"cache\" {"
      with    = "group \"cache\" {\n    count = 3\n"
    }
    run "job plan example.nomad" {
      expect  = ["*(2 create, 1 in-place update)"]
      capture = { index = "Job Modify Index: (\\d+)" }
    }
    run "job run -check-index {{index}} example.nomad" {
      expect = ["Allocation \"* modified: node \"*\", group \"cache\""]
    }
  }

  check "allocs" {
    count         = 3
    client_status = "running"
    version       = 1
    nodes         = 2
  }
  check "deployment" {
    status = "successful"
    wait   = "2m"
  }
}

step "stop" {
  title        = "Stop the job"
  instructions = "`job stop` stops the job's allocations on both clients."
  commands     = ["drover job stop example", "drover status example"]
  hints        = ["`drover job stop <job>`"]
  why          = "Stopping a job tells every client to stop its allocations; the job is dead (stopped)."

  solution {
    run "job stop example" {}
    run "status example" {
      expect = ["Status        = dead (stopped)"]
    }
  }

  check "job" {
    status  = "dead"
    stopped = true
  }
  check "allocs" {
    desired       = "stop"
    client_status = "complete"
    version       = 1
    count         = 3
  }
}
