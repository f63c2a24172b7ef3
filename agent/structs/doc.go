// Package structs is Drover's data model: jobs, groups and tasks, their
// defaults (Canonicalize) and their validation.
//
// Field names are fixed by the Nomad-compatible /v1 API: the JSON encoding
// of these types is what the API sends and receives, durations are integer
// nanoseconds, and the official Go API client decodes it unchanged.
//
// Validation reports every problem at once as a *ValidationError whose
// entries name the offending field by its JSON path
// ("TaskGroups[0].Tasks[1].Driver"), so the HTTP layer can report the
// field and the job file parser can point at file:line,col.
package structs
