// Package watchset helps tests of code that reads the state store with a
// memdb.WatchSet.
package watchset

import "github.com/hashicorp/go-memdb"

// Fired reports whether a channel of ws has closed. A commit closes the
// channels of what it changed before it returns, so a test can check
// right after a write, without waiting.
func Fired(ws memdb.WatchSet) bool {
	for ch := range ws {
		select {
		case <-ch:
			return true
		default:
		}
	}
	return false
}
