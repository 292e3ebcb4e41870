// Package s3 is the connector for a prefix of an S3 bucket, at Amazon S3 or
// any S3-compatible server (versitygw, MinIO, Ceph RGW, Wasabi, ...), using
// the AWS SDK for Go v2. It is the only package that imports that SDK.
//
// A path p is the object key <prefix>/p. Folders exist through the keys
// below them; an empty folder is kept by a zero-byte marker object "p/"
// (Mkdir writes one, and Delete or Move writes one for a folder whose last
// entry they remove). Walk is one paged ListObjectsV2 over the prefix,
// streamed page by page, with folders synthesized from the keys.
//
// Writes need no temporary names: a PUT, and the completion of a multipart
// upload, replace an object atomically. Every body is sent with its
// Content-MD5, so a server that would store a body cut short by a dropped
// connection (versitygw does) refuses it. Files are uploaded in parts of
// PartSize (8 MiB), Concurrency (4) at a time, from MultipartThreshold
// (64 MiB) on when the reader can seek (hashed first), else from one part
// on (each part is hashed in its buffer); the buffers come from a pool
// shared by the Conn, so memory stays at most Concurrency × PartSize
// however large or numerous the uploads. A failed multipart upload is
// aborted, and Recover aborts those a killed process left behind.
//
// Modification times are stored as metadata x-amz-meta-mtime in rclone's
// format (Unix seconds with nine fraction digits), so the two tools read
// each other's times; listings carry no metadata, so Walk HEADs each file
// for it, unless Config.ServerModTime makes the connector report the
// server's LastModified instead. Objects without the metadata report
// LastModified. Hash is the MD5 that a single-part ETag is; multipart
// uploads and SSE-KMS objects have no MD5 ETag, and report rclone's
// x-amz-meta-md5chksum where present, else no hash.
//
// Rev is the ETag: Put sends If-Match (PutOptions.IfRev) or
// If-None-Match: * (IfAbsent), and a 412 answer is kind Precondition.
// Delete with a Rev checks it with a HEAD first (and sends If-Match, which
// few servers honour on DELETE), so a write in between can be lost. Move is
// CopyObject then delete, key by key for a folder: not atomic.
package s3
