// Command drover is the single binary of Drover: agent, CLI and lab runner.
package main

import (
	"os"

	"drover/cmd/drover/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr, os.Environ()))
}
