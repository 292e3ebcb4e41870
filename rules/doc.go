// Package rules decides which paths Dovetail syncs: the user's include and
// exclude filters (an rsync-like pattern language, see docs/filters.md), the
// default list of OS and editor junk that is never synced, and the names
// Dovetail itself uses.
//
// It is pure: it reads rules from an io.Reader and judges paths, nothing
// else. A Filter judges one path; a Tracker, used while walking a tree, adds
// "everything below an excluded folder is excluded too". Excluded paths are
// neither copied nor deleted on either side.
package rules
