// Package webdav is the connector for a folder on a WebDAV server (RFC
// 4918): Apache mod_dav, Nextcloud and ownCloud, NAS boxes, rclone serve
// webdav, and anything built on golang.org/x/net/webdav.
//
// It is a small client on net/http and encoding/xml. Listings are one
// PROPFIND of depth 1 per folder (Apache refuses depth infinity), decoded
// as they stream in. Every href the server returns is percent-decoded,
// checked to be a direct member of the folder that was listed, and passed
// through connectors.ValidPath, so a hostile listing cannot name anything
// outside the root.
//
// Put uploads to a temporary name ".dovetail.tmp.<name>.<random>" next to
// the destination and then MOVEs it into place, so a dropped connection
// never leaves a partial file at the real name; Recover removes what an
// interrupted Put left. Conditional writes use the If header with the
// destination's entity tag, which Apache enforces (412); New probes the
// server once and reports the result in Features.ConditionalWrite, and a
// server that ignores it (x/net/webdav) gets a check just before the move.
// Rev is the ETag without its weak marker: Apache gives W/"..." for a
// second after a write and the strong tag afterwards, for the same content.
//
// WebDAV servers set modification times themselves, so Features.SetModTime
// is false and the engine keeps the client's times in its state database.
//
// The studio-b12/gowebdav library was considered and not used: it takes
// no context.Context, buffers a stream of unknown size in memory, cannot
// set a header on one request (If, Overwrite), and reports failures as
// bare status codes without Retry-After.
package webdav
