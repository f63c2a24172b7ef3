// Package httpapi serves Drover's /v1 HTTP API, the Nomad-compatible API
// that the official Go client (github.com/hashicorp/nomad/api) and the CLI
// speak.
//
// It is a thin shell over the server: reads run against state snapshots,
// writes call the server's in-process API, and the package declares the
// small Server interface it needs rather than depending on the concrete
// server type. Request and response bodies are the JSON form of the
// agent/structs model, which is the API's wire format.
//
// # Conventions
//
//   - Responses are JSON (Content-Type application/json); ?pretty indents.
//   - Errors are text/plain with the message as the body: 404 for missing
//     objects, 400 for bad input (undecodable JSON, missing or mismatched
//     IDs, ambiguous ID prefixes), 405 "Invalid method", 413 for a body
//     over 16 MiB, and 500 for everything else, including job validation
//     failures and -check-index conflicts, as the compatible API does.
//   - Reads set X-Nomad-Index, X-Nomad-KnownLeader and
//     X-Nomad-LastContact. With ?index=N a read blocks until the data's
//     index passes N or ?wait (default and maximum 5m) expires, and then
//     answers with the current data either way.
//   - Writes set X-Nomad-Index to the raft index they were applied at.
//   - GET of a single allocation, evaluation, node or deployment accepts a
//     unique ID prefix (the CLI's short IDs).
//   - ?namespace= selects the namespace ("default" when absent, "*" for
//     all in list endpoints).
//   - /v1/nodes and /v1/evaluations filter and page (list.go): ?filter=
//     keeps what an expression over the objects' fields selects (the
//     compatible API's language, hashicorp/go-bexpr); ?per_page=N answers
//     N at most and names the next item in X-Nomad-NextToken, which
//     ?next_token= takes; ?reverse turns the order round. Other endpoints
//     refuse ?filter= with a 400 rather than ignore it.
//   - /v1/search (prefix) and /v1/search/fuzzy are reads sent with PUT or
//     POST for their JSON body; agent/search does the searching over a
//     snapshot. The prefix search matches IDs (jobs by ID in ?namespace=,
//     allocations, evaluations, nodes and deployments by UUID prefix,
//     namespaces by name) and answers at most 20 sorted IDs per context,
//     with Truncations telling when there were more; "all" answers every
//     context, an empty list where nothing matched. The fuzzy search
//     matches names case-insensitively (jobs, their groups and tasks,
//     allocations, nodes, namespaces), each match with the IDs of what it
//     belongs to as its Scope; its term needs 2 characters at least. A
//     missing body, an unknown Context or a short term is a 400.
//     Drover has no namespace objects: the namespaces searched are
//     "default" and those the jobs are registered in.
//   - /v1/agent/monitor streams the agent's log (the official client's
//     Agent().Monitor reads it), and forwards to the agent that ?node_id=
//     or ?server_id= names, as the client endpoints forward to the node
//     that runs an allocation.
//
// # Client endpoints
//
// /v1/client/... (logs, stats, restart, signal, exec, fs) are answered by
// the node that runs the allocation; any other agent forwards the request
// there (exec's websocket included). The fs endpoints resolve every path
// inside the allocation directory through an os.Root, so neither ".." nor
// a link the task made can lead to the host's files ("Path escapes the
// alloc directory", 400). Exec speaks the compatible client's websocket
// frames (exec.go); what is refused before the command runs closes the
// websocket with code 4000+status and the error as the text.
package httpapi
