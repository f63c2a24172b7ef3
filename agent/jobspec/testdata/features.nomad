variable "image" {
  type    = string
  default = "alpine:3.19"
}

variable "replicas" {
  type    = number
  default = 2
}

variable "tags" {
  type    = list(string)
  default = ["a", "b"]
}

locals {
  # Locals may refer to each other in any order.
  full_name = "${local.prefix}-worker"
  prefix    = "drover"
}

job "features" {
  region      = "lab"
  datacenters = ["dc1", "dc2"]
  type        = "service"
  priority    = 70

  meta {
    owner = "instructor"
  }

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  reschedule {
    delay          = "10s"
    delay_function = "constant"
    unlimited      = true
  }

  group "workers" {
    count = var.replicas

    meta = {
      tier = "backend"
    }

    network {
      port "http" {
        to = 8080
      }
      port "admin" {
        static = 9000
      }
    }

    service {
      name     = local.full_name
      port     = "http"
      provider = "nomad"
      tags     = var.tags

      check {
        type     = "http"
        path     = "/health"
        interval = "5s"
        timeout  = "1s"
      }
    }

    task "worker" {
      driver = "docker"

      config {
        image = var.image
        ports = ["http", "admin"]
        args  = ["-listen", ":${NOMAD_PORT_http}", upper("x")]
      }

      env {
        NODE     = "${node.unique.name}"
        REPLICAS = var.replicas
      }

      template {
        data        = "listen = {{ env \"NOMAD_PORT_http\" }}\n"
        destination = "local/app.conf"
      }

      artifact {
        source      = "https://example.invalid/tool.tar.gz"
        destination = "local/tool"
        options {
          checksum = "sha256:abcd"
        }
      }

      logs {
        max_files     = 3
        max_file_size = 5
      }

      resources {
        cpu    = 250
        memory = 64
      }
    }

    task "sidecar" {
      driver       = "raw_exec"
      kill_timeout = "20s"
      kill_signal  = "SIGINT"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
