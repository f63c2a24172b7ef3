package server

import "testing"

// The raft entries a server proposes are counted per message type, and
// the totals agree with the parts.
func TestRaftEntryStats_CountsWhatIsProposed(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	before := s.RaftEntryStats()
	if _, err := s.RegisterNode(testNode("n1", 4000, 8192)); err != nil {
		t.Fatal(err)
	}
	st := s.RaftEntryStats()
	reg := st.ByType["NodeRegister"]
	if reg.Entries != 1 || reg.Bytes == 0 || reg.Largest != reg.Bytes {
		t.Fatalf("NodeRegister: %+v", reg)
	}
	if st.Total.Entries != before.Total.Entries+1 || st.Total.Bytes != before.Total.Bytes+reg.Bytes {
		t.Fatalf("total %+v after %+v and one entry of %d bytes", st.Total, before.Total, reg.Bytes)
	}
	var entries, bytes uint64
	for _, rc := range st.ByType {
		entries += rc.Entries
		bytes += rc.Bytes
	}
	if entries != st.Total.Entries || bytes != st.Total.Bytes {
		t.Fatalf("the types add up to %d entries, %d bytes; total %+v", entries, bytes, st.Total)
	}
	if st.LargestType == "" || st.Total.Largest < reg.Largest {
		t.Fatalf("largest: %q %d", st.LargestType, st.Total.Largest)
	}
	if got := messageTypeName(MessageType(200)); got != "type-200" {
		t.Fatalf("unknown type named %q", got)
	}
}
