// Command tinyredis is a tiny, static stand-in for Redis used by tests and
// labs: the server of drover/labs/standin/redisd (see there for its flags
// and environment variables) as a binary of its own, so that tests can put
// it in a FROM-scratch image without building the whole drover binary.
package main

import (
	"os"

	"drover/labs/standin/redisd"
)

func main() {
	os.Exit(redisd.Run("tinyredis", os.Args[1:], os.Stdout, os.Stderr))
}
