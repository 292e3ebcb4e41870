package s3_test

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/dovetail-sync/dovetail/connectors/s3"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want s3.Config
	}{
		{"s3://bucket", s3.Config{Bucket: "bucket"}},
		{"s3://bucket/", s3.Config{Bucket: "bucket"}},
		{"s3://bucket/a/b/", s3.Config{Bucket: "bucket", Prefix: "a/b"}},
		{"s3://b/p?endpoint=http://127.0.0.1:7070&region=eu-west-1&path_style=true",
			s3.Config{Bucket: "b", Prefix: "p", Endpoint: "http://127.0.0.1:7070", Region: "eu-west-1", PathStyle: true}},
		{"s3://b?profile=work&part_size=32M&multipart_threshold=1GiB&concurrency=8&modtime=server",
			s3.Config{Bucket: "b", Profile: "work", PartSize: 32 << 20, MultipartThreshold: 1 << 30, Concurrency: 8, ServerModTime: true}},
		{"s3://b?part_size=5242880&modtime=metadata", s3.Config{Bucket: "b", PartSize: 5 << 20}},
		{"s3://b/with%20space", s3.Config{Bucket: "b", Prefix: "with space"}},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s3.ParseURL(u)
		if err != nil {
			t.Errorf("ParseURL(%s): %v", tc.url, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) || got.PartSize != tc.want.PartSize ||
			got.MultipartThreshold != tc.want.MultipartThreshold || got.Concurrency != tc.want.Concurrency ||
			got.ServerModTime != tc.want.ServerModTime {
			t.Errorf("ParseURL(%s) = %+v, want %+v", tc.url, got, tc.want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct{ url, msg string }{
		{"sftp://bucket/x", `scheme is "sftp"`},
		{"s3:///prefix", "no bucket"},
		{"s3://key:secret@bucket/x", "must not carry credentials"},
		{"s3://bucket:9000/x", "give the server as ?endpoint="},
		{"s3://b?color=blue", `unknown URL parameter "color"`},
		{"s3://b?region=a&region=b", `"region" is given 2 times`},
		{"s3://b?path_style=maybe", `path_style="maybe"`},
		{"s3://b?part_size=1M", "below the S3 minimum"},
		{"s3://b?part_size=lots", `part_size="lots"`},
		{"s3://b?concurrency=0", `concurrency="0"`},
		{"s3://b?modtime=never", `modtime="never"`},
		{"s3://b?endpoint=127.0.0.1:7070", "not an http:// or https:// URL"},
		{"s3://b/a/../c", "prefix"},
		{"s3://b/a//c", "prefix"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s3.ParseURL(u)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseURL(%s) = %v, want an error containing %q", tc.url, err, tc.msg)
		}
	}
}

func TestConfigHidesSecrets(t *testing.T) {
	c := s3.Config{Bucket: "b", AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "very-secret-key", SessionToken: "session-token-value"}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", c)
	for _, s := range []string{c.String(), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), logged.String()} {
		if strings.Contains(s, "very-secret-key") || strings.Contains(s, "session-token-value") {
			t.Errorf("secret shown in %q", s)
		}
		if !strings.Contains(s, "AKIDEXAMPLE") {
			t.Errorf("access key id (not a secret) missing from %q", s)
		}
	}
}
