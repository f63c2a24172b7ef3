job "report" {
  type = "batch"

  periodic {
    cron             = "*/15 * * * *"
    prohibit_overlap = true
  }

  group "run" {
    restart {
      attempts = 0
    }

    task "generate" {
      driver = "mock"

      config {
        run_for   = "2s"
        exit_code = 0
      }
    }
  }
}
