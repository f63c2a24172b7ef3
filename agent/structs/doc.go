// Package structs is Drover's data model: jobs, groups and tasks, their
// defaults (Canonicalize) and their validation.
//
// Field names are fixed by the Nomad-compatible /v1 API: the JSON encoding
// of these types is what the API sends and receives, durations are integer
// nanoseconds, and the official Go API client decodes it unchanged.
//
// Where that API's JSON and Drover's model part ways, apijson.go bridges
// them: a job sent by the official CLI leaves unset fields null, so a
// block given in part takes the rest from the enclosing block and then
// the defaults (UnmarshalJSON); allocations carry the legacy Resources
// and TaskResources derived from AllocatedResources, and jobs the empty
// strings of features Drover lacks (MarshalJSON). agent/api_fields_test.go
// checks every tutorial endpoint's answer against the official client's
// structs, listing each field Drover leaves out with the reason.
//
// Validation reports every problem at once as a *ValidationError whose
// entries name the offending field by its JSON path
// ("TaskGroups[0].Tasks[1].Driver"), so the HTTP layer can report the
// field and the job file parser can point at file:line,col.
package structs

// The MessagePack codec of the types raft entries and client updates carry
// by the hundred thousand (allocations and plans: alloc.go, plan.go) is
// generated, not reflected: in bench c100k, reflection spent 2.3 of the
// leader's CPU-seconds encoding plans and 1.9 of the state machine's
// decoding them. TestCodecGolden holds the generated codec to what the
// reflection-based one wrote. After changing a type in those files, run
// `go generate ./agent/structs`.
//
//go:generate go run github.com/hashicorp/go-msgpack/v2/codec/codecgen -nx -d 1 -o structs.codecgen.go alloc.go plan.go
