package structs

import (
	"crypto/rand"
	"fmt"
)

// GenerateUUID returns a random version-4 UUID, the form of every ID in the
// API (allocations, evaluations, nodes, deployments). Short IDs shown by
// the CLI are its first 8 characters.
func GenerateUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("structs: no randomness: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
