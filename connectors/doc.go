// Package connectors defines what Dovetail needs from a storage location: the
// Connector interface, the Entry a listing yields, the Features a connector
// declares once, and the closed set of error kinds callers act on.
//
// Every connector (the local file system, the in-memory test store, and each
// provider) implements the same small interface and passes the suite in
// connectors/conformance. Optional abilities are separate one-method
// interfaces (Mover, Hasher, Trasher, Recoverer) with fallbacks here, so the
// engine works with any connector and uses the faster path where one exists.
//
// Paths are always slash-separated, relative to the connector's root, clean,
// and never contain "." or ".." elements; the root itself is "". Use
// ValidPath on anything that came from outside (a remote listing is input
// from the network).
package connectors
