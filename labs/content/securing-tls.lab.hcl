title       = "Securing the cluster: mutual TLS"
level       = "intermediate"
topology    = "dev"
security    = "acl+tls"
description = <<-EOT
  The cluster runs with ACLs and mutual TLS (cluster.yaml's security:
  acl+tls): its API is HTTPS, and it talks only to clients that show a
  certificate signed by the cluster's CA. You see a request without a
  certificate refused, then one with a certificate of another CA, and then
  that a good certificate opens the connection but not the door: the request
  still needs a token.
EOT

step "no-certificate" {
  title        = "Knock without a certificate"
  instructions = <<-EOT
    Your shell has the CLI's certificate from the cluster's CA in
    `NOMAD_CLIENT_CERT` and its key in `NOMAD_CLIENT_KEY`, and the CA in
    `NOMAD_CACERT`, so that drover trusts the agent's certificate. Clear the
    certificate for one command and list the nodes.
  EOT
  commands = ["NOMAD_CLIENT_CERT= NOMAD_CLIENT_KEY= drover node status"]
  hints    = ["The command fails before any token is looked at: read its error."]
  why      = "With verify_https_client the agent asks every HTTPS client for a certificate signed by its CA; without one the TLS handshake fails, and no request reaches the API."

  solution {
    run "node status" {
      env    = { NOMAD_CLIENT_CERT = "", NOMAD_CLIENT_KEY = "" }
      exit   = 1
      expect = ["*certificate*"]
    }
  }

  check "output" {
    run      = "node status"
    env      = { NOMAD_CLIENT_CERT = "", NOMAD_CLIENT_KEY = "" }
    exit     = 1
    contains = "certificate"
  }
}

step "other-ca" {
  title        = "A certificate from another CA"
  instructions = <<-EOT
    Anyone can make a CA and certificates. Make your own CA in the workspace,
    a CLI certificate it signs, and show that certificate instead.
  EOT
  commands = [
    "drover tls ca create",
    "drover tls cert create -cli",
    "NOMAD_CLIENT_CERT=global-cli-nomad.pem \\",
    "  NOMAD_CLIENT_KEY=global-cli-nomad-key.pem drover node status",
  ]
  hints = [
    "`tls cert create -cli` signs with nomad-agent-ca.pem, the CA `tls ca create` wrote.",
    "The agent trusts its own CA alone, whatever the certificate says it is.",
  ]
  why = "The agent accepts only certificates signed by the cluster's CA, and names that CA in the handshake. drover has no certificate of that CA to show, so it shows none and is refused as before (certificate required); a client that shows the other certificate anyway, as curl does, is refused with unknown ca."

  solution {
    run "tls ca create" {
      expect = ["*CA Certificate saved to: nomad-agent-ca.pem"]
    }
    run "tls cert create -cli" {
      expect = ["*Cli Certificate saved to global-cli-nomad.pem"]
    }
    run "node status" {
      env    = { NOMAD_CLIENT_CERT = "global-cli-nomad.pem", NOMAD_CLIENT_KEY = "global-cli-nomad-key.pem" }
      exit   = 1
      expect = ["*certificate*"]
    }
  }

  check "file" {
    path     = "global-cli-nomad.pem"
    contains = "BEGIN CERTIFICATE"
  }
  check "output" {
    run      = "node status"
    env      = { NOMAD_CLIENT_CERT = "global-cli-nomad.pem", NOMAD_CLIENT_KEY = "global-cli-nomad-key.pem" }
    exit     = 1
    contains = "certificate"
  }
}

step "certificate-and-token" {
  title        = "Two locks: a certificate and a token"
  instructions = <<-EOT
    With the cluster's certificate again (your shell's variables), list the
    nodes without a token, then with the management token, which is in your
    workspace's `bootstrap.token`.
  EOT
  commands = ["drover node status", "drover node status -token $(cat bootstrap.token)"]
  hints    = ["Without a token the agent answers, with 403 Permission denied: TLS and ACLs are two locks."]
  why      = "Mutual TLS says who may connect (holders of a certificate of the cluster's CA); ACLs say what a request may do (its token's policies). The cluster needs both."

  solution {
    run "node status" {
      exit   = 1
      expect = ["*Permission denied*"]
    }
    run "node status -token {{token:management}}" {
      expect = ["*ready*"]
    }
  }

  check "output" {
    run      = "node status"
    exit     = 1
    contains = "Permission denied"
  }
  check "output" {
    run      = "node status -token {{token:management}}"
    matches  = "\\bready\\b"
  }
}
