//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// The network cells. Two kinds:
//
//   - the small set synced to OpenSSH's sshd on 127.0.0.1, initial and
//     no-change, by Dovetail and by rclone bisync (its sftp backend, a
//     connection-string remote) over the same server, each into its own
//     fresh remote folder;
//   - memory: one large file (1 GiB) uploaded by Dovetail into an empty
//     remote folder of sshd, versitygw (S3) and Apache mod_dav (WebDAV),
//     then downloaded into an empty local folder with a new state file,
//     recording the peak RSS of each run.
//
// The servers serve folders of the local disk, so every result is checked
// by reading the files they wrote.

// netConnectors are the servers of the memory cells, in report order.
var netConnectors = []string{"sftp", "s3", "webdav"}

// memRow is one run of the memory cells: the large file uploaded to, or
// downloaded from, one server.
type memRow struct {
	conn      string // "sftp", "s3", "webdav"
	direction string // "upload", "download"
	m         measurement
	measured  bool
	status    string // "" when measured; statusNA or statusError otherwise
	note      string
}

func (r *memRow) ok() bool { return r.status == "" && r.measured }

func (b *bench) memRow(conn, direction string) *memRow {
	for _, r := range b.mem {
		if r.conn == conn && r.direction == direction {
			return r
		}
	}
	r := &memRow{conn: conn, direction: direction}
	b.mem = append(b.mem, r)
	return r
}

func (b *bench) memFail(r *memRow, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.status, r.note = statusError, msg
	b.failures = append(b.failures, fmt.Sprintf("memory, %s %s: %s", r.conn, r.direction, msg))
	logf("FAILED memory / %s %s: %s", r.conn, r.direction, msg)
}

// netSetFrom is the small set as the SFTP cells see it: the same files,
// its own name (and cell folders), its cp -a as the initial reference.
func netSetFrom(main *dataset) *dataset {
	ns := *main
	ns.name = "sftp"
	ns.title = fmt.Sprintf("%s over SFTP to OpenSSH sshd on 127.0.0.1", ns.title)
	ns.base = main
	return &ns
}

// addNetRows makes the rows of the network tables, in table order, so that
// cells not run still show up.
func (b *bench) addNetRows() {
	if ds := b.netSet; ds != nil {
		b.row(ds, cellInitial, toolDT)
		b.row(ds, cellInitial, toolRclone)
		b.row(ds, cellNoChange, toolFind)
		b.row(ds, cellNoChange, toolDT)
		b.row(ds, cellNoChange, toolRclone)
	}
	for _, c := range netConnectors {
		b.memRow(c, "upload")
		b.memRow(c, "download")
	}
}

// markNet marks every network cell.
func (b *bench) markNet(status, note string) {
	b.markSFTP(status, note)
	for _, r := range b.mem {
		r.status, r.note = status, note
	}
}

// markSFTP marks the cells of the SFTP table.
func (b *bench) markSFTP(status, note string) {
	if ds := b.netSet; ds != nil {
		b.markAll(ds, toolDT, status, note)
		b.markAll(ds, toolRclone, status, note)
		r := b.row(ds, cellNoChange, toolFind)
		r.status, r.note = status, note
	}
}

// runNet runs the network cells, starting each server when first needed
// and stopping them all at the end (also after a failure).
func (b *bench) runNet() {
	b.addNetRows()
	if b.cfg.noNet {
		b.markNet(statusNA, "skipped (-no-net)")
		return
	}
	b.servers = map[string]*server{}
	defer b.stopServers()
	if ds := b.netSet; ds != nil {
		logf("== %s", ds.title)
		if s, status, note := b.server("sftp"); s == nil {
			b.markSFTP(status, note)
		} else {
			b.runTool(ds, remoteTool(b.dovetailTool(ds), s.url, s.env))
			rc := remoteTool(b.rcloneTool(ds), s.rclone, nil)
			switch {
			case b.cfg.noPeers:
				b.markAll(ds, toolRclone, statusNA, "skipped (-no-peers)")
			case !installed(rc):
				b.markAll(ds, toolRclone, statusNA, "not installed")
			default:
				for _, c := range b.cells(ds) {
					b.row(ds, c, toolRclone).note = rcloneNote
				}
				b.runTool(ds, rc)
			}
		}
	}
	ds := b.memSet
	logf("== memory: %s up and down through each server", ds.title)
	src := filepath.Join(b.cfg.work, "cells", "net-mem", "A")
	os.RemoveAll(src)
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		b.markNet(statusError, err.Error())
		b.failures = append(b.failures, "memory: "+err.Error())
		return
	}
	defer b.cleanup(src)
	logf("memory: preparing the source folder (cp -a, not timed)")
	if err := untimed("cp", "-a", ds.root, src); err != nil {
		for _, r := range b.mem {
			b.memFail(r, "%v", err)
		}
		return
	}
	for _, name := range netConnectors {
		s, status, note := b.server(name)
		if s == nil {
			for _, d := range []string{"upload", "download"} {
				r := b.memRow(name, d)
				r.status, r.note = status, note
			}
			continue
		}
		b.memCells(s, src)
		if name != "sftp" {
			s.stop()
		}
	}
	if err := ds.verify(src, nil); err != nil {
		b.failures = append(b.failures, fmt.Sprintf("memory: the uploads changed their source: %v", err))
		logf("FAILED memory: the uploads changed their source: %v", err)
	}
}

// server starts the named server (once), or says why it cannot: status
// statusNA when it is not installed, statusError (a failure of the run)
// when it did not start.
func (b *bench) server(name string) (*server, string, string) {
	if s, ok := b.servers[name]; ok {
		if s == nil {
			return nil, b.serverStatus[name][0], b.serverStatus[name][1]
		}
		return s, "", ""
	}
	dir := filepath.Join(b.cfg.work, "servers", name)
	os.RemoveAll(dir)
	if err := os.MkdirAll(b.logDir(), 0o755); err != nil {
		return b.noServer(name, statusError, err.Error())
	}
	logFile := filepath.Join(b.logDir(), "server-"+name+".log")
	os.Remove(logFile)
	start := map[string]func(string, string) (*server, error){
		"sftp": startSSHD, "s3": startVersity, "webdav": startApache,
	}[name]
	s, err := start(dir, logFile)
	var na notAvailable
	switch {
	case errors.As(err, &na):
		logf("%s server: %v: its cells are marked %q", name, err, statusNA)
		return b.noServer(name, statusNA, err.Error())
	case err != nil:
		b.failures = append(b.failures, fmt.Sprintf("%s server: %v", name, err))
		logf("FAILED %s server: %v", name, err)
		return b.noServer(name, statusError, "server did not start: "+err.Error())
	}
	logf("%s server: %s on %s", name, s.version, s.addr())
	b.servers[name] = s
	b.serverVersions = append(b.serverVersions, s.version)
	return s, "", ""
}

func (b *bench) noServer(name, status, note string) (*server, string, string) {
	b.servers[name] = nil
	if b.serverStatus == nil {
		b.serverStatus = map[string][2]string{}
	}
	b.serverStatus[name] = [2]string{status, note}
	return nil, status, note
}

func (b *bench) stopServers() {
	for name, s := range b.servers {
		if s == nil {
			continue
		}
		s.stop()
		b.cleanup(filepath.Join(b.cfg.work, "servers", name))
	}
}

// remoteTool is t with its B side given as the URL (or rclone remote) of
// the remote folder whose files the server keeps in the local folder B, so
// that the cells check the results in B as they do locally.
func remoteTool(t tool, remote func(dir string) string, env []string) tool {
	wrap := func(f func(a, b string) invocation) func(a, b string) invocation {
		return func(a, bb string) invocation {
			if bb != "" {
				bb = remote(bb)
			}
			inv := f(a, bb)
			inv.env = append(inv.env, env...)
			return inv
		}
	}
	t.first, t.again, t.relaxed = wrap(t.first), wrap(t.again), wrap(t.relaxed)
	return t
}

// memCells uploads the large file from src into an empty remote folder of
// s, then downloads it into an empty local folder with a new state file,
// checking the files the server and Dovetail wrote.
func (b *bench) memCells(s *server, src string) {
	ds := b.memSet
	up, down := b.memRow(s.name, "upload"), b.memRow(s.name, "download")
	dir := filepath.Join(b.cfg.work, "cells", "net-mem", s.name)
	remote := filepath.Join(s.root, "mem")
	local := filepath.Join(dir, "B")
	for _, d := range []string{dir, remote} {
		if err := os.RemoveAll(d); err != nil {
			b.memFail(up, "%v", err)
			return
		}
	}
	if err := os.MkdirAll(local, 0o755); err != nil {
		b.memFail(up, "%v", err)
		return
	}
	defer b.cleanup(dir)
	defer b.cleanup(remote)
	env := append([]string{"XDG_STATE_HOME=" + filepath.Join(dir, "home", "state")}, s.env...)
	url := s.url(remote)
	run := func(r *memRow, from, state, check string, want summaryWant) bool {
		inv := invocation{args: []string{b.cfg.bin, "sync", "--json", "--state", state, from, url}, env: env}
		logf("memory: %s %s (%s)", s.name, r.direction, inv)
		res := b.timed(inv, "mem-"+s.name+"-"+r.direction)
		if res.exitErr != nil {
			b.memFail(r, "%v (log %s): %s", res.exitErr, res.stderr, res.lastLine())
			return false
		}
		r.m, r.measured = res.m, true
		logf("  %s", fmtM(res.m))
		if err := want.check(res.out()); err != nil {
			b.memFail(r, "%v", err)
			return false
		}
		if err := ds.verify(check, nil); err != nil {
			b.memFail(r, "wrong result: %v", err)
			return false
		}
		return true
	}
	files := int64(ds.files)
	if !run(up, src, filepath.Join(dir, "up.db"), remote, summaryWant{exact: map[string]int64{"uploaded": files}}) {
		down.status, down.note = statusError, "not run: the upload failed"
		return
	}
	run(down, local, filepath.Join(dir, "down.db"), local, summaryWant{exact: map[string]int64{"downloaded": files}})
}
