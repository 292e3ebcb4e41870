module github.com/dovetail-sync/dovetail

go 1.26
