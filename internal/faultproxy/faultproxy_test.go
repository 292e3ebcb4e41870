package faultproxy

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer answers every connection by echoing what it reads.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, addr string, msg []byte) ([]byte, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	go func() { c.Write(msg); c.(*net.TCPConn).CloseWrite() }()
	return io.ReadAll(c)
}

func TestForwards(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msg := bytes.Repeat([]byte("dovetail "), 100000)
	got, err := roundTrip(t, p.Addr(), msg)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("got %d bytes (err %v), want %d", len(got), err, len(msg))
	}
}

func TestCutAfter(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.CutAfter(1000)
	msg := bytes.Repeat([]byte("x"), 100000)
	got, _ := roundTrip(t, p.Addr(), msg)
	if len(got) >= len(msg) {
		t.Fatalf("connection was not cut: got all %d bytes", len(got))
	}
	if p.Cuts() == 0 {
		t.Fatal("Cuts() = 0 after a cut")
	}
	p.CutAfter(0)
	if got, _ := roundTrip(t, p.Addr(), msg); !bytes.Equal(got, msg) {
		t.Fatalf("after CutAfter(0): got %d bytes", len(got))
	}
}

func TestDropAll(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hi"))
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	p.DropAll()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); err == nil {
		t.Fatal("read after DropAll succeeded")
	}
}
