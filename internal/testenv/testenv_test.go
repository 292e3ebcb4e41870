package testenv

import "testing"

func TestToolFindsSh(t *testing.T) {
	if p := Tool(t, "sh", "it is part of every system"); p == "" {
		t.Fatal("sh not found")
	}
}

func TestFreePort(t *testing.T) {
	if p := FreePort(t); p <= 0 || p > 65535 {
		t.Fatalf("port %d", p)
	}
}
