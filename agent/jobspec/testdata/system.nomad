job "agentd" {
  type = "system"

  group "agent" {
    task "collector" {
      driver = "raw_exec"

      config {
        command = "/bin/true"
      }
    }
  }
}
