package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Conn is a connector for the objects below a prefix of one bucket. It is
// safe for concurrent use.
type Conn struct {
	cfg    Config
	client *s3.Client
	root   string // key prefix of the root: "" or "some/prefix/"
	feat   connectors.Features

	// bufs holds the part buffers: Concurrency slots, each nil until first
	// used, so multipart uploads of the whole Conn never hold more than
	// Concurrency × PartSize bytes.
	bufs chan []byte

	mu   sync.Mutex
	dirs map[string]struct{} // folders known to exist (written below)
}

var (
	_ connectors.Connector = (*Conn)(nil)
	_ connectors.Mover     = (*Conn)(nil)
	_ connectors.Recoverer = (*Conn)(nil)
)

// maxKnownDirs bounds the cache of known folders.
const maxKnownDirs = 10000

// New connects to the bucket cfg names and checks that it is reachable
// with the credentials found. It fails with a *connectors.Error of kind
// NotFound for a missing bucket and Permission for refused credentials.
func New(ctx context.Context, cfg Config) (*Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &connectors.Error{Kind: connectors.Invalid, Op: "connect", Err: err}
	}
	cfg = cfg.withDefaults()
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = cfg.MaxAttempts
				// The engine paces itself; a client-side retry quota only
				// turns a flaky network into odd errors.
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, &connectors.Error{Kind: connectors.Invalid, Op: "connect", Err: fmt.Errorf("s3: loading the AWS configuration: %w", err)}
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := awsCfg.Credentials.Retrieve(cctx); err != nil {
		return nil, &connectors.Error{Kind: connectors.Permission, Op: "connect", Err: fmt.Errorf(
			"s3: no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (%v)", err)}
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
		// Checksums only where the API requires them: uploads stream from
		// readers that cannot be read twice, and S3-compatible servers
		// differ in their support for trailing checksums. Integrity comes
		// from Content-MD5 on parts and the MD5 ETag check on single PUTs.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	c := &Conn{
		cfg:    cfg,
		client: client,
		bufs:   make(chan []byte, cfg.Concurrency),
		dirs:   make(map[string]struct{}),
		feat: connectors.Features{
			Name:             "s3",
			Hash:             connectors.MD5,
			SetModTime:       !cfg.ServerModTime,
			ServerSideMove:   true,
			ConditionalWrite: true,
			RevTracksContent: true, // the ETag
			Rules:            "s3",
		},
	}
	if cfg.ServerModTime {
		c.feat.ModTimePrecision = time.Second
	}
	if cfg.Prefix != "" {
		c.root = cfg.Prefix + "/"
	}
	for range cfg.Concurrency {
		c.bufs <- nil
	}
	if _, err := client.HeadBucket(cctx, &s3.HeadBucketInput{Bucket: &cfg.Bucket}); err != nil {
		err = classify("connect", "", err)
		switch connectors.KindOf(err) {
		case connectors.NotFound:
			return nil, fmt.Errorf("s3: bucket %q does not exist at %s: %w", cfg.Bucket, c.server(), err)
		case connectors.Permission:
			return nil, fmt.Errorf("s3: access to bucket %q refused (check the credentials and the region): %w", cfg.Bucket, err)
		}
		return nil, fmt.Errorf("s3: reaching bucket %q at %s: %w", cfg.Bucket, c.server(), err)
	}
	return c, nil
}

func (c *Conn) server() string {
	if c.cfg.Endpoint == "" {
		return "Amazon S3"
	}
	return c.cfg.Endpoint
}

// Close releases the Conn's resources. The SDK keeps no connections that
// need closing beyond idle HTTP ones, which are dropped here.
func (c *Conn) Close() error {
	if c.cfg.HTTPClient != nil {
		c.cfg.HTTPClient.CloseIdleConnections()
	}
	return nil
}

// Features reports what the connector can do.
func (c *Conn) Features() connectors.Features { return c.feat }

// key is the object key of path p (the root's own key is the prefix
// without its slash).
func (c *Conn) key(p string) string {
	if p == "" {
		return strings.TrimSuffix(c.root, "/")
	}
	return c.root + p
}

// dirPrefix is the key prefix of everything inside folder p.
func (c *Conn) dirPrefix(p string) string {
	if p == "" {
		return c.root
	}
	return c.root + p + "/"
}

func check(op, p string) error {
	if err := connectors.ValidPath(p); err != nil {
		return &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: err}
	}
	return nil
}

// etagRev is the Rev of an object: its ETag (quoted, as If-Match wants
// it), or, for a server that gives none, its time and size.
func etagRev(etag *string, lastMod *time.Time, size int64) string {
	if e := aws.ToString(etag); e != "" {
		if !strings.HasPrefix(e, `"`) && !strings.HasPrefix(e, "W/") {
			e = `"` + e + `"`
		}
		return e
	}
	return "t" + strconv.FormatInt(aws.ToTime(lastMod).UnixNano(), 10) + ":" + strconv.FormatInt(size, 10)
}

// isETag reports whether rev came from an ETag, so If-Match can carry it.
func isETag(rev string) bool { return strings.HasPrefix(rev, `"`) || strings.HasPrefix(rev, "W/") }

// modTime picks the time a listing reports from the stored metadata or the
// server's LastModified.
func (c *Conn) modTime(meta map[string]string, lastMod *time.Time) time.Time {
	if !c.cfg.ServerModTime {
		if t, ok := parseMtime(meta[metaMtime]); ok {
			return t
		}
	}
	return aws.ToTime(lastMod)
}

// headFile returns the file entry at p from a HEAD request.
func (c *Conn) headFile(ctx context.Context, op, p string) (connectors.Entry, error) {
	out, err := c.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &c.cfg.Bucket, Key: aws.String(c.key(p))})
	if err != nil {
		return connectors.Entry{}, classify(op, p, err)
	}
	size := aws.ToInt64(out.ContentLength)
	encrypted := out.SSECustomerAlgorithm != nil ||
		(out.ServerSideEncryption != "" && out.ServerSideEncryption != types.ServerSideEncryptionAes256)
	e := connectors.Entry{
		Path:    p,
		Kind:    connectors.File,
		Size:    size,
		ModTime: c.modTime(out.Metadata, out.LastModified),
		Rev:     etagRev(out.ETag, out.LastModified, size),
		Hash:    md5FromETag(aws.ToString(out.ETag), encrypted),
	}
	if e.Hash == "" {
		e.Hash = md5FromMeta(out.Metadata)
	}
	return e, nil
}

// folder reports whether anything is stored below p, and the entry of p
// as a folder (with its marker's time when the first key is the marker).
func (c *Conn) folder(ctx context.Context, op, p string) (connectors.Entry, bool, error) {
	prefix := c.dirPrefix(p)
	out, err := c.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &c.cfg.Bucket, Prefix: &prefix, MaxKeys: aws.Int32(1)})
	if err != nil {
		return connectors.Entry{}, false, classify(op, p, err)
	}
	e := connectors.Entry{Path: p, Kind: connectors.Dir}
	if len(out.Contents) == 0 {
		return e, false, nil
	}
	if o := out.Contents[0]; aws.ToString(o.Key) == prefix {
		e.ModTime = aws.ToTime(o.LastModified)
	}
	return e, true, nil
}

// Stat returns the entry at p: a file if an object has its key, else a
// folder if any key lies below it.
func (c *Conn) Stat(ctx context.Context, p string) (connectors.Entry, error) {
	if err := check("stat", p); err != nil {
		return connectors.Entry{}, err
	}
	if p == "" {
		return connectors.Entry{Kind: connectors.Dir}, nil
	}
	e, err := c.headFile(ctx, "stat", p)
	if !connectors.IsNotFound(err) {
		return e, err
	}
	d, ok, ferr := c.folder(ctx, "stat", p)
	switch {
	case ferr != nil:
		return connectors.Entry{}, ferr
	case !ok:
		return connectors.Entry{}, err
	}
	return d, nil
}

// Open reads the file at p with a ranged GET. Errors while reading the
// body (a dropped connection, a body shorter than announced) are of kind
// Transient.
func (c *Conn) Open(ctx context.Context, p string, offset, length int64) (io.ReadCloser, error) {
	if err := check("open", p); err != nil {
		return nil, err
	}
	if p == "" {
		return nil, connectors.Errorf(connectors.Exists, "open", p, "the root is a folder")
	}
	if offset < 0 {
		return nil, connectors.Errorf(connectors.Invalid, "open", p, "negative offset %d", offset)
	}
	empty := func() (io.ReadCloser, error) {
		if _, err := c.headFile(ctx, "open", p); err != nil {
			return nil, err
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	if length == 0 {
		return empty()
	}
	in := &s3.GetObjectInput{Bucket: &c.cfg.Bucket, Key: aws.String(c.key(p))}
	if offset > 0 || length > 0 {
		rng := "bytes=" + strconv.FormatInt(offset, 10) + "-"
		if length > 0 {
			rng += strconv.FormatInt(offset+length-1, 10)
		}
		in.Range = &rng
	}
	out, err := c.client.GetObject(ctx, in)
	if err != nil {
		if status(err) == 416 { // offset at or past the end
			return empty()
		}
		return nil, classify("open", p, err)
	}
	return &transientReader{body: out.Body, path: p, left: aws.ToInt64(out.ContentLength)}, nil
}

// Mkdir creates a zero-byte marker object "p/" so that the folder exists
// while it is empty.
func (c *Conn) Mkdir(ctx context.Context, p string) (connectors.Entry, error) {
	if err := check("mkdir", p); err != nil {
		return connectors.Entry{}, err
	}
	if p == "" {
		// The root of a prefix is kept by a marker like any folder; a
		// bucket's root always exists.
		if c.root != "" {
			if err := c.putMarker(ctx, p); err != nil {
				return connectors.Entry{}, classify("mkdir", p, err)
			}
		}
		return connectors.Entry{Kind: connectors.Dir}, nil
	}
	if _, err := c.headFile(ctx, "mkdir", p); err == nil {
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, "mkdir", p, "a file is there")
	} else if !connectors.IsNotFound(err) {
		return connectors.Entry{}, err
	}
	if err := c.checkParents(ctx, "mkdir", p); err != nil {
		return connectors.Entry{}, err
	}
	if err := c.putMarker(ctx, p); err != nil {
		return connectors.Entry{}, classify("mkdir", p, err)
	}
	c.knowDirs(p)
	return connectors.Entry{Path: p, Kind: connectors.Dir}, nil
}

func (c *Conn) putMarker(ctx context.Context, p string) error {
	_, err := c.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &c.cfg.Bucket,
		Key:           aws.String(c.dirPrefix(p)),
		Body:          strings.NewReader(""),
		ContentLength: aws.Int64(0),
	})
	return err
}

// checkParents fails with kind Exists if a parent of p is a file, so that
// the keys keep forming a tree. Folders this Conn wrote into are trusted
// without asking the server again.
func (c *Conn) checkParents(ctx context.Context, op, p string) error {
	var parents []string
	for d := connectors.Parent(p); d != ""; d = connectors.Parent(d) {
		if c.knownDir(d) {
			break
		}
		parents = append(parents, d)
	}
	errs := make([]error, len(parents))
	var wg sync.WaitGroup
	for i, d := range parents {
		wg.Go(func() {
			_, err := c.headFile(ctx, op, d)
			switch {
			case err == nil:
				errs[i] = connectors.Errorf(connectors.Exists, op, p, "%q is a file, not a folder", d)
			case !connectors.IsNotFound(err):
				errs[i] = err
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *Conn) knownDir(d string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.dirs[d]
	return ok
}

// knowDirs records p's parents (and p itself for a folder written by
// Mkdir) as folders.
func (c *Conn) knowDirs(p string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.dirs) > maxKnownDirs {
		clear(c.dirs)
	}
	for d := p; d != ""; d = connectors.Parent(d) {
		c.dirs[d] = struct{}{}
	}
}

// forgetDirs drops p and everything below it from the known folders.
func (c *Conn) forgetDirs(p string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for d := range c.dirs {
		if connectors.Within(d, p) {
			delete(c.dirs, d)
		}
	}
}

// Delete removes the file at p, or the marker of the empty folder p. S3
// has no conditional delete on most servers, so with ifRev the current Rev
// is checked first (and sent as If-Match for servers that honour it): a
// write between the check and the delete can still be lost. When the
// folder holding p would vanish with it (S3 folders exist only through
// their keys), a marker keeps it.
func (c *Conn) Delete(ctx context.Context, p string, ifRev string) error {
	if err := check("delete", p); err != nil {
		return err
	}
	if p == "" {
		return connectors.Errorf(connectors.Invalid, "delete", p, "cannot delete the root")
	}
	cur, err := c.headFile(ctx, "delete", p)
	switch {
	case err == nil:
		if ifRev != "" && cur.Rev != ifRev {
			return connectors.Errorf(connectors.Precondition, "delete", p, "changed since it was listed")
		}
		in := &s3.DeleteObjectInput{Bucket: &c.cfg.Bucket, Key: aws.String(c.key(p))}
		if ifRev != "" && isETag(ifRev) {
			in.IfMatch = &ifRev
		}
		if _, err := c.client.DeleteObject(ctx, in); err != nil {
			return classify("delete", p, err)
		}
	case !connectors.IsNotFound(err):
		return err
	default:
		if err := c.deleteFolder(ctx, p); err != nil {
			return err
		}
	}
	return c.keepParent(ctx, "delete", p)
}

func (c *Conn) deleteFolder(ctx context.Context, p string) error {
	prefix := c.dirPrefix(p)
	out, err := c.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &c.cfg.Bucket, Prefix: &prefix, MaxKeys: aws.Int32(2)})
	if err != nil {
		return classify("delete", p, err)
	}
	switch {
	case len(out.Contents) == 0:
		return connectors.Errorf(connectors.NotFound, "delete", p, "no such file or folder")
	case len(out.Contents) > 1 || aws.ToString(out.Contents[0].Key) != prefix:
		return connectors.Errorf(connectors.Precondition, "delete", p, "folder is not empty")
	}
	if _, err := c.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &c.cfg.Bucket, Key: &prefix}); err != nil {
		return classify("delete", p, err)
	}
	c.forgetDirs(p)
	return nil
}

// keepParent puts a marker for the folder holding p if nothing else is
// left in it, so removing a folder's last entry does not remove the folder.
func (c *Conn) keepParent(ctx context.Context, op, p string) error {
	parent := connectors.Parent(p)
	if parent == "" {
		return nil
	}
	_, ok, err := c.folder(ctx, op, parent)
	if err != nil || ok {
		return err
	}
	if err := c.putMarker(ctx, parent); err != nil {
		return classify(op, parent, err)
	}
	return nil
}

// status returns the HTTP status of the response err carries, or 0.
func status(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
