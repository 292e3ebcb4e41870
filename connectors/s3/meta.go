package s3

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Object metadata keys (sent as x-amz-meta-<key>). They are rclone's, so
// each tool reads the times and hashes the other wrote.
const (
	// metaMtime holds the modification time as Unix seconds with a
	// nine-digit fraction, "1614834367.123456789".
	metaMtime = "mtime"
	// metaMD5 holds the base64 MD5 of the content where the ETag is not
	// one (rclone writes it for its multipart uploads).
	metaMD5 = "md5chksum"
)

// formatMtime writes t as rclone does: seconds since the epoch, a dot, and
// nine digits of nanoseconds. Times before 1970 use the floor of the
// seconds and a positive fraction, which parseMtime (and rclone's parser)
// read back exactly.
func formatMtime(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// parseMtime reads a time written by formatMtime or by rclone ("seconds",
// "seconds.fraction" with up to nine fraction digits).
func parseMtime(s string) (time.Time, bool) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || len(frac) > 9 {
		return time.Time{}, false
	}
	var ns int64
	if frac != "" {
		f, err := strconv.ParseUint(frac, 10, 32)
		if err != nil {
			return time.Time{}, false
		}
		ns = int64(f)
		for range 9 - len(frac) {
			ns *= 10
		}
	}
	return time.Unix(n, ns).UTC(), true
}

// md5FromETag returns the hex MD5 an ETag is, or "" when it is not one: a
// multipart ETag ("...-3"), or an object encrypted with SSE-KMS or SSE-C
// (sse says so), whose ETag is not the MD5 of the content.
func md5FromETag(etag string, encrypted bool) string {
	etag = strings.Trim(etag, `"`)
	if encrypted || len(etag) != 32 {
		return ""
	}
	if _, err := hex.DecodeString(etag); err != nil {
		return ""
	}
	return strings.ToLower(etag)
}

// md5FromMeta returns the hex MD5 stored in metadata by rclone, or "".
func md5FromMeta(meta map[string]string) string {
	v, ok := meta[metaMD5]
	if !ok {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != 16 {
		return ""
	}
	return hex.EncodeToString(b)
}
