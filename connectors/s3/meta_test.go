package s3

import (
	"testing"
	"time"
)

func TestMtimeFormat(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC), "1614834367.123456789"},
		{time.Unix(0, 0), "0.000000000"},
		{time.Unix(1700000000, 5), "1700000000.000000005"},
		{time.Unix(-2, 500000000), "-2.500000000"}, // 1.5 s before the epoch
	} {
		s := formatMtime(tc.t)
		if s != tc.want {
			t.Errorf("formatMtime(%v) = %q, want %q", tc.t, s, tc.want)
		}
		if got, ok := parseMtime(s); !ok || !got.Equal(tc.t) {
			t.Errorf("parseMtime(%q) = %v, %v; want %v", s, got, ok, tc.t)
		}
	}
}

func TestMtimeParse(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want time.Time
		ok   bool
	}{
		{"1614834367", time.Unix(1614834367, 0), true},
		{"1614834367.5", time.Unix(1614834367, 500000000), true}, // rclone writes what it has
		{"1614834367.000001", time.Unix(1614834367, 1000), true},
		{"", time.Time{}, false},
		{"abc", time.Time{}, false},
		{"1.1234567891", time.Time{}, false},
		{"1.-5", time.Time{}, false},
		{"2021-03-04T05:06:07Z", time.Time{}, false},
	} {
		got, ok := parseMtime(tc.s)
		if ok != tc.ok || (ok && !got.Equal(tc.want)) {
			t.Errorf("parseMtime(%q) = %v, %v; want %v, %v", tc.s, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMD5FromETag(t *testing.T) {
	for _, tc := range []struct {
		etag      string
		encrypted bool
		want      string
	}{
		{`"9E107D9D372BB6826BD81D3542A419D6"`, false, "9e107d9d372bb6826bd81d3542a419d6"},
		{`9e107d9d372bb6826bd81d3542a419d6`, false, "9e107d9d372bb6826bd81d3542a419d6"},
		{`"9e107d9d372bb6826bd81d3542a419d6"`, true, ""},
		{`"9e107d9d372bb6826bd81d3542a419d6-3"`, false, ""},
		{`"zz107d9d372bb6826bd81d3542a419d6"`, false, ""},
		{``, false, ""},
	} {
		if got := md5FromETag(tc.etag, tc.encrypted); got != tc.want {
			t.Errorf("md5FromETag(%q, %v) = %q, want %q", tc.etag, tc.encrypted, got, tc.want)
		}
	}
	if got := md5FromMeta(map[string]string{"md5chksum": "nhB9nTcrtoJr2B01QqQZ1g=="}); got != "9e107d9d372bb6826bd81d3542a419d6" {
		t.Errorf("md5FromMeta = %q", got)
	}
	if got := md5FromMeta(map[string]string{"md5chksum": "short"}); got != "" {
		t.Errorf("md5FromMeta of a bad value = %q", got)
	}
}
