title       = "Your first job: run, scale, update and stop"
level       = "beginner"
topology    = "dev"
jobs        = ["example"]
images      = ["redis:3.2", "redis:4.0"]
description = <<-EOT
  The first tutorial. You write the example job, run it, scale its group from
  one allocation to three with a version check, roll out a new image one
  allocation at a time, look at an allocation and its logs, and stop the job.
EOT

step "init" {
  title        = "Write the example job"
  instructions = <<-EOT
    `job init` writes `example.nomad`: a job "example" with a group "cache"
    running one Redis container. Open it and read it.

    To keep the lab short, lower the update block's `min_healthy_time` from
    "10s" to "2s".
  EOT
  commands = ["drover job init", "edit example.nomad: min_healthy_time = \"2s\""]
  hints = [
    "The command that writes an example job is under `drover job`.",
    "Run `drover job init`, then change the line `min_healthy_time  = \"10s\"` in the update block.",
  ]
  why = "job init writes a commented example job; nothing reaches the cluster until you run it."

  solution {
    run "job init" {
      expect = ["Example job file written to example.nomad"]
    }
    edit "example.nomad" {
      replace = "min_healthy_time  = \"10s\""
      with    = "min_healthy_time  = \"2s\""
    }
  }

  check "file" {
    path     = "example.nomad"
    contains = "job \"example\""
  }
  check "file" {
    path     = "example.nomad"
    contains = "min_healthy_time  = \"2s\""
  }
}

step "run" {
  title        = "Run it"
  instructions = <<-EOT
    `job run` submits the job and follows the evaluation the scheduler makes
    for it, until the allocation is placed.
  EOT
  commands = ["drover job run example.nomad", "drover status example"]
  hints    = ["`drover job run <file>` submits a job."]
  why      = "The scheduler placed one allocation of group \"cache\" (count = 1) on the only client."

  solution {
    run "job run example.nomad" {
      expect = ["Allocation \"* created: node \"*\", group \"cache\"", "*finished with status \"complete\""]
    }
  }

  check "job" {
    status  = "running"
    version = 0
  }
  check "allocs" {
    count         = 1
    client_status = "running"
    version       = 0
  }
}

step "plan" {
  title        = "Plan a change: three instances"
  instructions = <<-EOT
    Change the group's `count` from 1 to 3 and ask for a plan. The existing
    allocation can be updated in place (only the count changed) and two new
    ones are created. Note the Job Modify Index the plan prints.
  EOT
  commands = ["edit example.nomad: count = 3", "drover job plan example.nomad"]
  hints = [
    "The group \"cache\" has a line `count = 1`.",
    "Set `count = 3`, then `drover job plan example.nomad`: it should say (2 create, 1 in-place update).",
  ]
  why = "Only the count changed: the running allocation is kept (in-place) and two are created."

  solution {
    edit "example.nomad" {
      replace = "count = 1"
      with    = "count = 3"
    }
    run "job plan example.nomad" {
      expect = ["*(2 create, 1 in-place update)", "*Count: \"1\" => \"3\" (forces create)"]
    }
  }

  check "plan" {
    file     = "example.nomad"
    group    = "cache"
    create   = 2
    in_place = 1
  }
}

step "check-index" {
  title        = "Run it, if nobody changed the job meanwhile"
  instructions = <<-EOT
    With `-check-index`, the job only runs if its modify index is still the
    one the plan saw. Use the index your plan printed.

    A second run with the same index is refused: the job has changed since.
  EOT
  commands = ["drover job run -check-index <index> example.nomad"]
  hints = [
    "The plan's last lines show the command to run, with the index.",
    "`drover job run -check-index <Job Modify Index> example.nomad`",
  ]
  why = "The job's modify index still matched, so version 1 was registered: the allocation was updated in place and two were placed."

  solution {
    run "job plan example.nomad" {
      capture = { index = "Job Modify Index: (\\d+)" }
    }
    run "job run -check-index {{index}} example.nomad" {
      expect = ["Allocation \"* modified: node \"*\", group \"cache\""]
    }
    run "job run -check-index {{index}} example.nomad" {
      exit   = 1
      expect = ["*Job not updated*"]
    }
  }

  check "job" {
    version = 1
  }
  check "allocs" {
    count         = 3
    client_status = "running"
    version       = 1
  }
}

step "new-image" {
  title        = "Plan a new image"
  instructions = <<-EOT
    Change the image from `redis:3.2` to `redis:4.0` and plan it with
    `-explain`. A new image needs new allocations, and the update block's
    `max_parallel = 1` means one at a time.
  EOT
  commands = ["edit example.nomad: image = \"redis:4.0\"", "drover job plan -explain example.nomad"]
  hints = [
    "The task's config has `image = \"redis:3.2\"`.",
    "After the edit, the plan says (1 create/destroy update, 2 ignore).",
  ]
  why = "update.max_parallel = 1 and 1 destructive update is already in flight: the other two are ignored until it is healthy."

  solution {
    edit "example.nomad" {
      replace = "redis:3.2"
      with    = "redis:4.0"
    }
    run "job plan -explain example.nomad" {
      expect = ["*(1 create/destroy update, 2 ignore)", "*update.max_parallel = 1 and 1 destructive update is already in flight*"]
    }
  }

  check "plan" {
    file        = "example.nomad"
    destructive = 1
    ignore      = 2
  }
}

step "rollout" {
  title        = "Roll it out"
  instructions = <<-EOT
    Run the new version. Each time a new allocation has been healthy for
    `min_healthy_time`, the deployment replaces the next one. Watch it with
    `drover status example`.
  EOT
  commands = ["drover job run example.nomad", "drover status example"]
  hints    = ["`drover job run example.nomad` again, then `drover status example` until the deployment is successful."]
  why      = "The deployment replaced the three allocations one at a time, each after the previous one was healthy."

  solution {
    run "job run example.nomad" {}
  }

  check "allocs" {
    count         = 3
    client_status = "running"
    version       = 2
    wait          = "2m"
  }
  check "deployment" {
    status  = "successful"
    healthy = 3
    wait    = "2m"
  }
}

step "inspect" {
  title        = "Look at the job and an allocation"
  instructions = <<-EOT
    `drover status example` lists the allocations. Pick one and look at it
    with `drover alloc status <id>`, then read its logs with
    `drover alloc logs <id> redis`.
  EOT
  commands = ["drover status example", "drover alloc status <alloc>", "drover alloc logs <alloc> redis"]
  hints    = ["The allocation IDs are in the last table of `drover status example`."]
  why      = "Every task records its events: received, driver, started."

  solution {
    run "status example" {
      expect = ["Description = Deployment completed successfully"]
    }
    run "alloc status {{alloc}}" {
      expect = ["Task \"redis\" is \"running\"", "*Started     Task started by client"]
    }
    run "alloc logs {{alloc}} redis" {}
  }

  check "task" {
    task  = "redis"
    state = "running"
    event = "Started"
  }
  check "output" {
    run      = "status example"
    contains = "Deployment completed successfully"
  }
}

step "stop" {
  title        = "Stop the job"
  instructions = <<-EOT
    `job stop` stops every allocation. The job stays, as a new version, with
    the status "dead (stopped)".
  EOT
  commands = ["drover job stop example", "drover status"]
  hints    = ["`drover job stop <job>`"]
  why      = "A stopped job keeps its history; its allocations are told to stop and the job becomes dead."

  solution {
    run "job stop example" {
      expect = ["*finished with status \"complete\""]
    }
  }

  check "job" {
    status  = "dead"
    stopped = true
  }
  check "allocs" {
    desired = "run"
    count   = 0
  }
  check "allocs" {
    desired       = "stop"
    client_status = "complete"
    version       = 2
    count         = 3
  }
}
