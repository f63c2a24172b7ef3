# This job file was written by "drover job init". It runs one Redis
# container and shows the blocks you will meet most often. Lines starting
# with # are comments; delete any you no longer need.

# A job is the whole piece of work you hand to the cluster. Its label,
# "example", is the ID you use with "drover job status example".
job "example" {
  # The datacenters the job may be placed in. Every client declares the
  # datacenter it belongs to in its agent configuration.
  datacenters = ["dc1"]

  # "service" jobs run until stopped; "batch" jobs run to completion;
  # "system" jobs run one copy on every eligible client.
  type = "service"

  # How a new version of the job replaces the running one: one allocation
  # at a time, each healthy for 10s before the next is replaced.
  update {
    max_parallel      = 1
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = false
    canary            = 0
  }

  # How allocations move off a client that is being drained.
  migrate {
    max_parallel     = 1
    health_check     = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "5m"
  }

  # A group is the unit of scheduling: all its tasks land on the same
  # client. count is how many copies of the group should run.
  group "cache" {
    count = 1

    # How the client restarts a failed task before giving up on it.
    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    # Scratch disk shared by the group's tasks, in MB.
    ephemeral_disk {
      size = 300
    }

    # A task is one program. The driver decides how it runs: here, a
    # Docker container.
    task "redis" {
      driver = "docker"

      # Driver-specific settings. port_map connects the "db" port below
      # to port 6379 inside the container.
      config {
        image = "redis:3.2"

        port_map {
          db = 6379
        }
      }

      # What the task needs from its client: CPU in MHz, memory in MB and
      # a dynamic port labelled "db", picked by the scheduler.
      resources {
        cpu    = 500 # 500 MHz
        memory = 256 # 256MB

        network {
          mbits = 10
          port "db" {}
        }
      }

      # A service names the task for discovery, with a health check.
      service {
        name = "redis-cache"
        tags = ["global", "cache"]
        port = "db"

        check {
          name     = "alive"
          type     = "tcp"
          interval = "10s"
          timeout  = "2s"
        }
      }
    }
  }
}
