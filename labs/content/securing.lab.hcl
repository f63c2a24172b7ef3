title       = "Securing the cluster: ACL tokens and policies"
level       = "intermediate"
topology    = "dev"
security    = "acl"
jobs        = ["example"]
images      = ["redis:3.2"]
description = <<-EOT
  The cluster runs with ACLs on (cluster.yaml's security: acl or acl+tls). You
  see an anonymous request refused, use the management token the cluster was
  bootstrapped with, write a read-only policy, create a token that carries
  it, and see that this token can read jobs but not run one.
EOT

file "readonly.hcl" {
  content = <<-EOT
    # Read jobs and allocations in the default namespace, and nodes.
    namespace "default" {
      policy = "read"
    }

    node {
      policy = "read"
    }
  EOT
}

file "example.nomad" {
  content = <<-EOT
    job "example" {
      datacenters = ["dc1"]

      group "cache" {
        task "redis" {
          driver = "docker"

          config {
            image = "redis:3.2"
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

step "anonymous" {
  title        = "Knock without a token"
  instructions = <<-EOT
    With `acl { enabled = true }`, every request must carry a token whose
    policies allow it. A request without one is anonymous, and the anonymous
    policy allows nothing until someone writes it. Make sure `NOMAD_TOKEN` is
    not set (`unset NOMAD_TOKEN`) and list the nodes.
  EOT
  commands = ["unset NOMAD_TOKEN", "drover node status"]
  hints    = ["The command fails: that is the point. Read its error."]
  why      = "Without a token the request is anonymous, and no policy grants anonymous requests node:read: the agent answers 403 Permission denied."

  solution {
    run "node status" {
      exit   = 1
      expect = ["*Permission denied*"]
    }
  }

  check "output" {
    run      = "node status"
    exit     = 1
    contains = "Permission denied"
  }
}

step "management" {
  title        = "Use the management token"
  instructions = <<-EOT
    The cluster was bootstrapped once (`drover acl bootstrap`, which a second
    time is refused); its management token can do everything. On the kit's
    cluster the provisioning printed it and the server keeps it in
    `/etc/drover.d/bootstrap.token`; here it is in your workspace's
    `bootstrap.token`. Export it and ask the cluster who you are.
  EOT
  commands = ["export NOMAD_TOKEN=$(cat bootstrap.token)", "drover acl token self"]
  hints    = ["`drover acl token self` shows the token the request carried: its Type is management."]
  why      = "NOMAD_TOKEN (or -token) is sent with every request as X-Nomad-Token; a management token passes every check."

  solution {
    run "acl token self -token {{token:management}}" {
      expect = ["Type*= management"]
    }
  }

  check "output" {
    run      = "acl token self -token {{token:management}}"
    contains = "management"
  }
}

step "policy" {
  title        = "Write a read-only policy"
  instructions = <<-EOT
    `readonly.hcl` in your workspace grants read on the default namespace and
    on nodes. Policies are stored in the cluster under a name; apply this one
    as `readonly`, then look at it.
  EOT
  commands = ["drover acl policy apply -description \"read only\" readonly readonly.hcl", "drover acl policy info readonly"]
  hints    = ["`acl policy apply` takes the policy's name, then its file."]
  why      = "The management token may write policies; a policy is only rules, and does nothing until a token carries it."

  solution {
    run "acl policy apply -token {{token:management}} -description \"read only\" readonly readonly.hcl" {}
    run "acl policy info -token {{token:management}} readonly" {}
  }

  check "output" {
    run      = "acl policy info -token {{token:management}} readonly"
    contains = "policy = \"read\""
  }
}

step "token" {
  title        = "Create a token for a student"
  instructions = <<-EOT
    Create a client token named `student` that carries the `readonly` policy,
    and note its Secret ID: that is what its holder exports as NOMAD_TOKEN.
  EOT
  commands = ["drover acl token create -name student -policy readonly", "drover acl token list"]
  hints    = ["`acl token create` takes -name, -type (client by default) and -policy, which you may repeat."]
  why      = "A client token is only as strong as its policies: this one reads the default namespace and the nodes."

  solution {
    run "acl token create -token {{token:management}} -name student -policy readonly" {
      capture = { reader = "Secret ID\\s+=\\s+(\\S+)" }
    }
    run "acl token list -token {{token:management}}" {
      expect = ["*student*client*"]
    }
  }

  check "output" {
    run      = "acl token list -token {{token:management}}"
    matches  = "student\\s+client"
  }
}

step "cannot-run" {
  title        = "A read-only token cannot run a job"
  instructions = <<-EOT
    With the student's token (`-token <secret>`, or export it as
    NOMAD_TOKEN), try to run `example.nomad`.
  EOT
  commands = ["drover job run -token <student secret> example.nomad"]
  hints    = ["Registering a job needs the submit-job capability, which read does not include."]
  why      = "The readonly policy grants read, not submit-job: the register request is refused and no job exists."

  solution {
    run "job run -token {{reader}} example.nomad" {
      exit   = 1
      expect = ["*Permission denied*"]
    }
  }

  check "job" {
    exists = false
  }
}

step "can-read" {
  title        = "But it can read"
  instructions = <<-EOT
    Run the job with the management token, then look at it with the
    student's token.
  EOT
  commands = ["drover job run -token $(cat bootstrap.token) example.nomad", "drover job status -token <student secret> example"]
  hints    = ["`job status` needs read on the job's namespace, which the policy grants."]
  why      = "The student's token reads jobs and allocations in the default namespace; writing them stays with tokens whose policies say write."

  solution {
    run "job run -token {{token:management}} example.nomad" {}
    run "job status -token {{reader}} example" {
      expect = ["*running*"]
    }
  }

  check "job" {
    status = "running"
  }
  check "allocs" {
    count         = 1
    client_status = "running"
  }
}
