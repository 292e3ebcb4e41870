// Package faultproxy is a TCP proxy for tests that puts faults between a
// client and a real server on 127.0.0.1: it drops every open connection on
// demand, cuts connections after a number of bytes, or stalls them, so a
// connector's tests can show that a dropped or stalled transfer never
// leaves a partial file and that a retry completes the sync.
package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards connections from Addr to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	cutAfter atomic.Int64 // bytes per connection (both directions) before it is cut; 0 = never
	stall    atomic.Int64 // nanoseconds each chunk is held back; 0 = none
	refuse   atomic.Bool

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	cuts  atomic.Int64
	wg    sync.WaitGroup
}

// New starts a proxy on 127.0.0.1 that forwards to target ("host:port").
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is the proxy's "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// CutAfter makes every connection opened from now on be closed once it has
// carried n bytes (both directions together). 0 turns cutting off.
func (p *Proxy) CutAfter(n int64) { p.cutAfter.Store(n) }

// Stall holds every chunk of data back for d before forwarding it; 0 turns
// stalling off. A long stall looks like a server that stopped answering.
func (p *Proxy) Stall(d time.Duration) { p.stall.Store(int64(d)) }

// Refuse makes the proxy close new connections at once (true) or accept
// them again (false).
func (p *Proxy) Refuse(on bool) { p.refuse.Store(on) }

// DropAll closes every open connection now.
func (p *Proxy) DropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	p.cuts.Add(int64(len(p.conns)))
}

// Cuts reports how many connections the proxy has cut or dropped.
func (p *Proxy) Cuts() int64 { return p.cuts.Load() }

// Close stops the proxy and drops every connection.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.DropAll()
	p.wg.Wait()
	return err
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.refuse.Load() {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

func (p *Proxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *Proxy) handle(client net.Conn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	p.track(client, true)
	p.track(server, true)
	defer func() {
		p.track(client, false)
		p.track(server, false)
		client.Close()
		server.Close()
	}()
	budget := &atomic.Int64{}
	budget.Store(p.cutAfter.Load())
	done := make(chan struct{}, 2)
	go func() { p.pipe(server, client, budget); done <- struct{}{} }()
	go func() { p.pipe(client, server, budget); done <- struct{}{} }()
	<-done
	<-done
}

// pipe copies src to dst until either fails or the shared budget runs out,
// which closes both; an orderly end of src half-closes dst.
func (p *Proxy) pipe(dst, src net.Conn, budget *atomic.Int64) {
	cut := func() { dst.Close(); src.Close() }
	limited := budget.Load() > 0
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if d := p.stall.Load(); d > 0 {
				time.Sleep(time.Duration(d))
			}
			chunk := buf[:n]
			if limited {
				left := budget.Add(-int64(n))
				if left < 0 {
					keep := int64(n) + left
					if keep > 0 {
						dst.Write(chunk[:keep])
					}
					p.cuts.Add(1)
					cut()
					return
				}
			}
			if _, werr := dst.Write(chunk); werr != nil {
				cut()
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				cut()
				return
			}
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			return
		}
	}
}
