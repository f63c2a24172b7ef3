// Package config reads, merges and validates the Drover agent
// configuration.
//
// # Format
//
// Configuration files are written in HCL (native syntax, "*.hcl") or in
// HCL's JSON syntax ("*.json"). The top level accepts:
//
//	name, region, datacenter, data_dir, log_level, bind_addr     strings
//	leave_on_interrupt, leave_on_terminate, enable_debug,
//	disable_update_check                                          bools
//	ports     { http, rpc, serf }                                 numbers
//	addresses { http, rpc, serf }                                 bind overrides
//	advertise { http, rpc, serf }                                 "host" or "host:port"
//	server    { enabled, bootstrap_expect, data_dir, num_schedulers,
//	            heartbeat_grace, min_heartbeat_ttl,
//	            server_join { retry_join, retry_max, retry_interval, start_join } }
//	client    { enabled, servers, state_dir, alloc_dir, node_class,
//	            network_interface, network_speed, cpu_total_compute,
//	            memory_total_mb, disk_total_mb, options, meta,
//	            reserved { cpu, memory, disk, reserved_ports },
//	            min_dynamic_port, max_dynamic_port, max_kill_timeout,
//	            gc_interval, gc_max_allocs, server_join { ... } }
//	ui        { enabled, show_cli_hints }
//	acl       { enabled, token_ttl, policy_ttl }                  access control, off by default;
//	                                                              the TTLs are accepted and unused
//	plugin "<name>" { args = [...]  config { ... } }
//
// Durations are Go duration strings such as "10s" or "1m30s". client
// options and meta may be written as a map attribute (options = {...}) or
// as a block whose keys may be quoted:
//
//	options {
//	  "driver.raw_exec.enable" = "1"
//	}
//
// A plugin's config block is opaque: it is decoded into a
// map[string]interface{}, with nested blocks collected as
// []map[string]interface{} under the block name.
//
// Unknown attributes or blocks, values of the wrong type, bad durations,
// bad log levels and out-of-range ports are errors. Every problem is
// reported, one per line, as
//
//	<file>:<line>,<col>-<endcol>: <summary>; <detail>
//
// (see package drover/agent/hclerr).
//
// # Defaults
//
// Default returns region "global", datacenter "dc1", log level INFO, bind
// address 0.0.0.0, ports 4646 (HTTP), 4647 (RPC) and 4648 (Serf), server
// heartbeat_grace and min_heartbeat_ttl 10s, server_join retry_interval
// 30s, client dynamic ports 20000-32000, max_kill_timeout 30s, gc_interval
// 1m, gc_max_allocs 50, and the UI enabled with CLI hints. DevConfig
// returns the single-node development setup used by -dev.
//
// # Merge order
//
// Parse, ParseFile and LoadPaths return only what the files set, and
// remember which settings were given explicitly. LoadPaths takes files and
// directories (whose *.hcl and *.json files are read in lexical order) and
// merges them in the order given, each later file overriding earlier ones
// setting by setting. The effective configuration is
//
//	Merge(Default(), files)      or, with -dev,      Merge(DevConfig(), files)
//
// which Load computes. A setting written in a later file always wins, even
// when it is a zero value such as enabled = false; lists are replaced
// whole; maps and plugins are merged by key. Validate then checks the
// result and Warnings reports risky but legal choices.
package config
