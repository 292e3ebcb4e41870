// Package sftp is the connector for a folder on an SSH server, spoken to
// with SFTP (version 3, as OpenSSH serves it) through github.com/pkg/sftp
// over golang.org/x/crypto/ssh. It is the only package that imports them.
//
// # Addresses and credentials
//
// A remote is sftp://user@host:port/path?key=FILE&known_hosts=FILE (see
// ParseURL). The path is relative to the folder the server logs the user
// into (normally the home folder); a path starting with two slashes
// (sftp://u@h//srv/data) is absolute. Authentication tries, in order, the
// key file (passphrase from DOVETAIL_SFTP_KEY_PASSPHRASE; without key=, the
// default ~/.ssh/id_ed25519, id_rsa, id_ecdsa), the keys of a running
// ssh-agent (SSH_AUTH_SOCK), and a password (DOVETAIL_SFTP_PASSWORD).
// The server's host key must be in known_hosts: an unknown key is refused
// with its SHA256 fingerprint and the line that trusts it, a changed key is
// refused loudly. Nothing is ever accepted silently.
//
// # Writes
//
// Put uploads to ".dovetail.tmp.<name>.<random>" in the destination folder,
// sets the modification time, then renames the file into place with
// posix-rename@openssh.com, an atomic rename(2) on the server. A server
// without that extension gets a fallback that moves the old file aside
// first (see Put); Recover undoes what a dropped connection left behind.
// Conditional writes (PutOptions.IfRev, IfAbsent) are checked just before
// the rename: best effort, so Features.ConditionalWrite is false. Writes
// create missing folders below the root but never the root itself (only
// Mkdir("") does), so that a volume that is not mounted reads as NotFound
// instead of being filled anew. Symbolic links are never followed below
// the root.
//
// # Versions
//
// SFTP version 3 carries whole-second modification and access times and no
// inode number, so size and modification time alone cannot tell two
// versions written within the same second apart. Put therefore stamps each
// version it writes with an access time one second later than the version
// it replaces (and at least a day ahead of the clock, so that a relatime
// mount does not update it on every read), and Rev is size, modification
// time and access time. A read on a strictatime mount may still change the
// access time: the only effect is a conditional write that fails with kind
// Precondition and is retried after the next listing. A server that does
// not report access times (pkg/sftp's own server reports the modification
// time instead) leaves Rev at size and modification time, which misses a
// same-size rewrite within the same second.
//
// # Trash
//
// Trash, and every Put that replaces a file, keep the old content under
// .dovetail/trash/<run stamp>/<path> below the root (Put uses
// hardlink@openssh.com, so keeping costs no copy), the way the local
// connector does. Walk does not report the .dovetail folder.
//
// # Connections
//
// One SSH connection carries every call (pkg/sftp is safe for concurrent
// use, and pipelines reads and writes). When the connection is lost, calls
// in flight fail with kind Transient and the next call dials again; a call
// that finds the connection already dead redials once by itself.
package sftp
