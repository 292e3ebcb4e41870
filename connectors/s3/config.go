package s3

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Defaults for the multipart settings of a Config left at zero.
const (
	DefaultMultipartThreshold = 64 << 20
	DefaultPartSize           = 8 << 20
	DefaultConcurrency        = 4

	// minPartSize is the smallest part S3 accepts (except the last one).
	minPartSize = 5 << 20
	// maxParts is the most parts one multipart upload may have.
	maxParts = 10000
)

// Config says which bucket and prefix a Conn works on and how it talks to
// the server. The zero values of the optional fields select the defaults.
type Config struct {
	// Bucket is the bucket name (the URL's host).
	Bucket string
	// Prefix is the key prefix that is the connector's root, without a
	// leading or trailing slash; "" is the whole bucket.
	Prefix string
	// Endpoint is the server's base URL ("http://127.0.0.1:7070"); "" means
	// Amazon S3 itself.
	Endpoint string
	// Region is the signing region; "" takes it from the environment
	// (AWS_REGION, the profile) or falls back to us-east-1.
	Region string
	// PathStyle addresses the bucket as endpoint/bucket/key instead of the
	// virtual-host style bucket.endpoint/key.
	PathStyle bool
	// Profile names the shared-config profile to take credentials and region
	// from; "" means AWS_PROFILE or "default".
	Profile string
	// AccessKeyID, SecretAccessKey and SessionToken are static credentials.
	// When AccessKeyID is "", the standard AWS chain is used (environment,
	// shared files, profile). They never appear in String or logs.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// MultipartThreshold is the size from which a file is uploaded in
	// parts. It applies to readers that can seek (hashed in a first pass
	// for Content-MD5); any other reader is buffered part by part, so it
	// goes in one PUT only when it fits in one part.
	MultipartThreshold int64
	// PartSize is the size of one part of a multipart upload (at least
	// 5 MiB); it grows for files that would need more than 10,000 parts.
	PartSize int64
	// Concurrency is how many parts are uploaded at once. Memory for parts
	// is bounded by Concurrency × PartSize for the whole Conn.
	Concurrency int
	// ServerModTime makes listings report the server's LastModified as the
	// modification time instead of reading each object's stored time (a
	// HEAD request per file in Walk). Put then cannot set times.
	ServerModTime bool
	// MaxAttempts is how often the SDK tries one request that failed in a
	// retryable way (5xx, throttling, a dropped connection before the body
	// was sent); 0 means 3. The engine retries whole operations on top.
	MaxAttempts int
	// HTTPClient, if set, carries every request (tests use it to count or
	// disturb requests).
	HTTPClient *http.Client
}

// String describes c without its secrets.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "s3://%s/%s", c.Bucket, c.Prefix)
	if c.Endpoint != "" {
		fmt.Fprintf(&b, " endpoint=%s", c.Endpoint)
	}
	if c.Region != "" {
		fmt.Fprintf(&b, " region=%s", c.Region)
	}
	if c.PathStyle {
		b.WriteString(" path_style=true")
	}
	if c.Profile != "" {
		fmt.Fprintf(&b, " profile=%s", c.Profile)
	}
	if c.AccessKeyID != "" {
		fmt.Fprintf(&b, " access_key_id=%s secret_access_key=%s", c.AccessKeyID, redacted(c.SecretAccessKey))
	}
	if c.SessionToken != "" {
		b.WriteString(" session_token=" + redacted(c.SessionToken))
	}
	return b.String()
}

// LogValue is String for log/slog, so a Config logged as a value never
// shows its secrets.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// GoString keeps %#v from printing the secrets too.
func (c Config) GoString() string { return "s3.Config{" + c.String() + "}" }

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "xxxxx"
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.MultipartThreshold == 0 {
		c.MultipartThreshold = DefaultMultipartThreshold
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
	return c
}

// Validate reports the first field of c that cannot work.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Bucket == "":
		return errors.New("s3: no bucket given (the URL is s3://BUCKET/prefix)")
	case strings.ContainsAny(c.Bucket, "/?#") || !utf8.ValidString(c.Bucket):
		return fmt.Errorf("s3: bucket name %q is not valid", c.Bucket)
	case c.PartSize < minPartSize:
		return fmt.Errorf("s3: part_size %d is below the S3 minimum of 5 MiB", c.PartSize)
	case c.MultipartThreshold < 1:
		return fmt.Errorf("s3: multipart_threshold %d must be positive", c.MultipartThreshold)
	case c.Concurrency < 1:
		return fmt.Errorf("s3: concurrency %d must be at least 1", c.Concurrency)
	case c.MaxAttempts < 1:
		return fmt.Errorf("s3: max attempts %d must be at least 1", c.MaxAttempts)
	case c.AccessKeyID != "" && c.SecretAccessKey == "":
		return errors.New("s3: an access key id was given without its secret access key")
	}
	if c.Prefix != "" {
		if err := validPrefix(c.Prefix); err != nil {
			return fmt.Errorf("s3: prefix %q: %v", c.Prefix, err)
		}
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("s3: endpoint %q is not an http:// or https:// URL", c.Endpoint)
		}
	}
	return nil
}

func validPrefix(p string) error {
	for _, name := range strings.Split(p, "/") {
		if name == "" || name == "." || name == ".." {
			return fmt.Errorf("has an empty, . or .. element")
		}
	}
	if !utf8.ValidString(p) || strings.IndexByte(p, 0) >= 0 {
		return errors.New("is not valid UTF-8 text")
	}
	return nil
}

// queryParams are the URL query parameters ParseURL knows.
var queryParams = []string{"endpoint", "region", "path_style", "profile", "part_size", "multipart_threshold", "concurrency", "modtime"}

// ParseURL reads a URL of the form
//
//	s3://bucket/prefix?endpoint=http://127.0.0.1:7070&region=us-east-1&path_style=true
//
// into a Config. Credentials never come from the URL: New takes them from
// the standard AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN, AWS_PROFILE, the shared files) unless the caller fills
// the Config's credential fields.
func ParseURL(u *url.URL) (Config, error) {
	var c Config
	if u.Scheme != "s3" {
		return c, fmt.Errorf("s3: URL scheme is %q, want s3://", u.Scheme)
	}
	if u.User != nil {
		return c, errors.New("s3: the URL must not carry credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) instead")
	}
	if u.Port() != "" {
		return c, fmt.Errorf("s3: %q is a bucket name, it cannot have a port; give the server as ?endpoint=http://host:port", u.Host)
	}
	if u.Fragment != "" {
		return c, fmt.Errorf("s3: unexpected #%s in the URL", u.Fragment)
	}
	c.Bucket = u.Host
	c.Prefix = strings.Trim(u.Path, "/")
	q := u.Query()
	for k := range q {
		if !slices.Contains(queryParams, k) {
			return c, fmt.Errorf("s3: unknown URL parameter %q (known: %s)", k, strings.Join(queryParams, ", "))
		}
		if len(q[k]) > 1 {
			return c, fmt.Errorf("s3: URL parameter %q is given %d times", k, len(q[k]))
		}
	}
	c.Endpoint = q.Get("endpoint")
	c.Region = q.Get("region")
	c.Profile = q.Get("profile")
	var err error
	if v := q.Get("path_style"); v != "" {
		if c.PathStyle, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("s3: path_style=%q is not true or false", v)
		}
	}
	if v := q.Get("part_size"); v != "" {
		if c.PartSize, err = parseSize(v); err != nil {
			return c, fmt.Errorf("s3: part_size=%q: %v", v, err)
		}
	}
	if v := q.Get("multipart_threshold"); v != "" {
		if c.MultipartThreshold, err = parseSize(v); err != nil {
			return c, fmt.Errorf("s3: multipart_threshold=%q: %v", v, err)
		}
	}
	if v := q.Get("concurrency"); v != "" {
		if c.Concurrency, err = strconv.Atoi(v); err != nil || c.Concurrency < 1 {
			return c, fmt.Errorf("s3: concurrency=%q is not a positive number", v)
		}
	}
	switch v := q.Get("modtime"); v {
	case "", "metadata":
	case "server":
		c.ServerModTime = true
	default:
		return c, fmt.Errorf("s3: modtime=%q, want metadata or server", v)
	}
	return c, c.Validate()
}

// parseSize reads a byte count with an optional binary unit: "16777216",
// "16M", "16MiB", "1G".
func parseSize(s string) (int64, error) {
	num := strings.TrimRight(s, "KMGTiBkmgtib")
	unit := strings.ToUpper(s[len(num):])
	unit = strings.TrimSuffix(strings.TrimSuffix(unit, "B"), "I")
	shift := map[string]uint{"": 0, "K": 10, "M": 20, "G": 30, "T": 40}
	sh, ok := shift[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || n < 1 || n > (1<<62)>>sh {
		return 0, errors.New("not a size (a number of bytes, or with K, M, G or T: 16M)")
	}
	return n << sh, nil
}
