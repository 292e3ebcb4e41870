package dial

import (
	"context"
	"strings"
	"testing"
)

func TestOpenLocal(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Name != dir || r.LocalRoot != dir || r.Features().Name != "local" {
		t.Errorf("Open(%s) = name %q root %q features %q", dir, r.Name, r.LocalRoot, r.Features().Name)
	}
}

func TestOpenUnknownScheme(t *testing.T) {
	_, err := Open(context.Background(), "gopher://user:hunter2@host/x")
	if err == nil {
		t.Fatal("unknown scheme accepted")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), `unknown scheme "gopher"`) {
		t.Errorf("error does not name the scheme: %v", err)
	}
}

func TestIsURL(t *testing.T) {
	for arg, want := range map[string]bool{
		"sftp://h/x": true, "s3://b/p": true, "/home/a": false, "rel/dir": false,
		"./a://b": false, "C:\\x": false, "webdav+https://h/": true,
	} {
		if got := IsURL(arg); got != want {
			t.Errorf("IsURL(%q) = %v, want %v", arg, got, want)
		}
	}
}
