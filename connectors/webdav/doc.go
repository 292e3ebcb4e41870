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
// No reader ever sees part of a file Put writes. New probes, with a small
// temporary file in the root, whether an interrupted PUT over a file
// leaves the old content. Where it does (Apache mod_dav_fs writes to a
// temporary file and renames it) Put is a single PUT. Elsewhere Put
// uploads to ".dovetail.tmp.<name>.<random>" next to the destination and
// MOVEs it into place, so a dropped connection never leaves a partial file
// at the real name; Recover removes what an interrupted Put left. (A MOVE
// onto an existing file is not atomic: RFC 4918 has the server delete the
// destination first, so Open looks twice before it reports a file
// missing.)
//
// Conditional writes use the If header (RFC 4918 section 10.4) with the
// file's entity tag, which names the resource (so it can guard a MOVE's
// destination) and is compared weakly, and If-None-Match: * or Overwrite: F
// for IfAbsent. New tests whether the server enforces the If header and
// reports it in Features.ConditionalWrite (Apache does, x/net/webdav does
// not); without it the condition is checked just before the write. Rev is
// the ETag without its weak marker: Apache gives W/"..." for a second after
// a write and the strong tag afterwards, for the same content.
//
// WebDAV servers set modification times themselves, so Features.SetModTime
// is false and the engine keeps the client's times in its state database.
//
// The studio-b12/gowebdav library was considered and not used: it takes
// no context.Context, buffers a stream of unknown size in memory, cannot
// set a header on one request (If, Overwrite), and reports failures as
// bare status codes without Retry-After.
package webdav
