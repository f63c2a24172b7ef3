package cli

import (
	"bytes"
	"testing"
)

// TestNextPageHint: the hint repeats the command line with the new token
// in place of the old, in the compatible CLI's words.
func TestNextPageHint(t *testing.T) {
	for _, args := range [][]string{
		{"node", "status", "-per-page", "2"},
		{"node", "status", "-per-page", "2", "-page-token", "old"},
		{"node", "status", "-page-token=old", "-per-page", "2"},
	} {
		var out bytes.Buffer
		s := &streams{Out: &out, args: args}
		s.printNextPage("abc", "node", "status")
		want := "\nResults have been paginated. To get the next page run:\n\ndrover node status -per-page 2 -page-token abc\n"
		if out.String() != want {
			t.Errorf("%q:\n got %q\nwant %q", args, out.String(), want)
		}
	}
	var out bytes.Buffer
	(&streams{Out: &out}).printNextPage("", "node", "status")
	if out.Len() != 0 {
		t.Errorf("no token, yet %q", out.String())
	}
}
