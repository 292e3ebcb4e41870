// Package resilient wraps any connector with the behaviour every network
// connector needs and none should write itself: retries of failures that
// may pass (kinds Transient and RateLimited, honouring the server's
// Retry-After), a cap on the calls in flight to the provider, a bandwidth
// limit shared by all transfers, a timeout per metadata call and a stall
// timeout for transfers.
//
// Only what is safe is retried. A listing restarts only if nothing reached
// the caller yet; a download resumes at the byte it stopped at; an upload
// is repeated only when its source can be rewound or was not read yet; a
// delete or move whose first attempt failed in transit but did its work is
// recognised as done. Errors of other kinds (NotFound, Precondition,
// Permission, Invalid, Exists ...) are returned at once.
//
// The wrapped value implements exactly the optional interfaces (Mover,
// Hasher, Trasher, Recoverer, Syncer) of the connector it wraps, so feature
// checks by type assertion see the same connector.
package resilient
