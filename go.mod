module github.com/dovetail-sync/dovetail

go 1.26.0

require (
	github.com/mattn/go-sqlite3 v1.14.53
	golang.org/x/sys v0.49.0
	golang.org/x/text v0.21.0
)
