// Package jobspec turns job files into canonical, validated jobs.
//
// It is a pure function of its inputs: HCL2 source (with variable and
// locals blocks, -var, -var-file and NOMAD_VAR_ values supplied through
// Options) or API JSON, in; a *structs.Job or diagnostics, out. It never
// reads the network and reads the file system only for -var-file.
//
// Every problem is reported at once, each at file:line,col: syntax errors,
// unknown or misplaced blocks and arguments, wrong value types, bad
// durations, and the model's own validation (negative count, missing
// driver, duplicate names, impossible update deadlines, ...), which is
// mapped back from the field path to the source range that set it, or to
// the nearest enclosing block.
//
// References to names a job file does not define, such as
// ${node.unique.name}, ${attr.kernel.name} or ${NOMAD_PORT_db}, are
// runtime interpolations: they are kept as text for the client to resolve.
//
// Blocks that belong to the Nomad job format but that Drover does not
// implement (parameterized, affinity, spread, volume, vault, lifecycle,
// identity, ...) are refused with a message naming them, never ignored.
// periodic is parsed and validated (cron syntax, time zone, batch only).
//
// # Defaults
//
// Fields a job leaves out get these values, the ones a Nomad server uses.
// A partial block keeps the defaults of the fields it does not set, and a
// job-level update, migrate or reschedule block is the base of each
// group's own block.
//
//	field                              default
//	---------------------------------  -----------------------------------------------
//	job type                           service
//	job priority                       50
//	job region / namespace             global / default
//	job datacenters                    ["*"] (any)
//	job node_pool                      default
//	job name                           the job's ID (its label)
//	group count                        1 (an explicit 0 is kept)
//	update (service, system)           max_parallel 1, health_check "checks",
//	                                   min_healthy_time 10s, healthy_deadline 5m,
//	                                   progress_deadline 10m, stagger 30s, canary 0,
//	                                   auto_revert false, auto_promote false
//	update (batch)                     none (a batch job may not have one)
//	migrate (service only)             max_parallel 1, health_check "checks",
//	                                   min_healthy_time 10s, healthy_deadline 5m
//	restart (service, system)          attempts 2, interval 30m, delay 15s, mode "fail"
//	restart (batch)                    attempts 3, interval 24h, delay 15s, mode "fail"
//	reschedule (service)               delay 30s, delay_function "exponential",
//	                                   max_delay 1h, unlimited true
//	reschedule (batch)                 attempts 1, interval 24h, delay 5s,
//	                                   delay_function "constant"
//	reschedule (system)                none
//	ephemeral_disk                     size 300 (MB), sticky false, migrate false
//	task restart                       the group's restart policy
//	task resources                     cpu 100 (MHz; none when cores is set), memory 300 (MB)
//	task kill_timeout                  5s
//	task logs                          max_files 10, max_file_size 10 (MB)
//	network mode / port host_network   "host" / "default"
//	constraint operator                "="
//	service name                       <job>-<group>[-<task>]
//	service provider / address_mode    "consul" / "auto"
//	template                           change_mode "restart", splay 5s, perms "0644",
//	                                   delimiters "{{" "}}"
//	artifact                           mode "any", destination "local/"
//	periodic                           enabled true, time_zone "UTC"
//
// Numbers inside a task's driver config are float64, as they are when the
// same job arrives as JSON, so both forms of a job are identical.
package jobspec
