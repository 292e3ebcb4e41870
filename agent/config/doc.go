// Package config reads the agent's configuration file: the connections to
// storage providers, the sync tasks that use them and the agent's own
// settings, from one YAML file (by default
// $XDG_CONFIG_HOME/dovetail/dovetail.yaml).
//
// Decoding is strict: an unknown key, a value of the wrong kind and a
// value out of range are all reported together, each with the file, line
// and key ("dovetail.yaml:12: tasks[0]: unknown key "directon" (did you
// mean "direction"?)"). Defaults are filled in on load: every field of a
// Config returned by Load, Parse or DefaultConfig holds the value the
// agent should use, with "~" in paths expanded.
//
// Secrets (passwords, secret keys, tokens) never live in the
// configuration file; the Secrets interface finds them in the OS keyring
// or in a secrets.yaml file of mode 0600 next to the configuration. See
// docs/configuration.md for the user's view.
package config
