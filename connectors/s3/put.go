package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dovetail-sync/dovetail/connectors"
)

// unsignedPayload sends bodies as UNSIGNED-PAYLOAD: they are streamed once
// from the caller's reader, which cannot be read twice to hash it first.
// Integrity comes from Content-MD5 (parts) and the ETag check (single PUT).
var unsignedPayload = s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)

// cond is the condition a write is made under.
type cond struct {
	ifMatch  string // an ETag the current object must have
	ifAbsent bool   // no object may exist
}

// Put uploads r to the key of p. A PUT (or a multipart upload's completion)
// replaces an object atomically at S3, so no temporary name is needed: a
// failed upload leaves the old object, and a failed multipart upload is
// aborted. Files of known size below the multipart threshold go in one
// streamed PUT; larger ones, and files of unknown size longer than a part,
// in parts.
func (c *Conn) Put(ctx context.Context, p string, r io.Reader, opts connectors.PutOptions) (connectors.Entry, error) {
	if err := check("put", p); err != nil {
		return connectors.Entry{}, err
	}
	if p == "" {
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, "put", p, "the root is a folder")
	}
	if _, isDir, err := c.folder(ctx, "put", p); err != nil {
		return connectors.Entry{}, err
	} else if isDir {
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, "put", p, "a folder is there")
	}
	if err := c.checkParents(ctx, "put", p); err != nil {
		return connectors.Entry{}, err
	}
	cd := cond{ifAbsent: opts.IfAbsent}
	if opts.IfRev != "" {
		if isETag(opts.IfRev) {
			cd.ifMatch = opts.IfRev
		} else if err := c.checkRev(ctx, p, opts.IfRev); err != nil {
			return connectors.Entry{}, err
		}
	}
	mtime := opts.ModTime
	if mtime.IsZero() {
		mtime = time.Now()
	}
	meta := map[string]string{metaMtime: formatMtime(mtime)}
	e, err := c.upload(ctx, p, r, opts.Size, meta, cd)
	if err != nil {
		err = classify("put", p, err)
		if opts.IfRev != "" && connectors.IsNotFound(err) {
			err = &connectors.Error{Kind: connectors.Precondition, Op: "put", Path: p, Err: fmt.Errorf("the file is gone: %w", err)}
		}
		return connectors.Entry{}, err
	}
	c.knowDirs(connectors.Parent(p))
	e.Path, e.Kind, e.ModTime = p, connectors.File, mtime
	if c.cfg.ServerModTime {
		// The listing reports the server's time, which only it knows.
		return c.headFile(ctx, "put", p)
	}
	return e, nil
}

// checkRev compares the current Rev of p with rev for servers without
// ETags, where If-Match cannot do it.
func (c *Conn) checkRev(ctx context.Context, p, rev string) error {
	cur, err := c.headFile(ctx, "put", p)
	if connectors.IsNotFound(err) {
		return connectors.Errorf(connectors.Precondition, "put", p, "the file is gone")
	}
	if err != nil {
		return err
	}
	if cur.Rev != rev {
		return connectors.Errorf(connectors.Precondition, "put", p, "changed since it was listed")
	}
	return nil
}

// upload stores body at the key of p and returns the entry's size, Rev and
// hash.
//
// Every request body goes with its Content-MD5, so a server that would
// store a body cut short by a dropped connection (versitygw does) refuses
// it instead. A seekable body below the multipart threshold is read twice
// (once to hash it); any other body is read into pool buffers: one PUT if
// it fits in a part, else a multipart upload.
func (c *Conn) upload(ctx context.Context, p string, r io.Reader, size int64, meta map[string]string, cd cond) (connectors.Entry, error) {
	if rs, ok := r.(io.ReadSeeker); ok && size >= 0 && size < c.cfg.MultipartThreshold {
		return c.putSeekable(ctx, p, rs, size, meta, cd)
	}
	var body io.Reader = r
	if size >= 0 {
		body = &exactReader{r: r, left: size, path: p}
	}
	if size >= 0 && size <= smallFile {
		// Small files do not wait for (or pin) a part-sized buffer.
		buf := make([]byte, size)
		if _, err := io.ReadFull(body, buf); err != nil {
			return connectors.Entry{}, err
		}
		if _, err := body.Read(make([]byte, 1)); err != io.EOF {
			return connectors.Entry{}, cmpErr(err, io.ErrNoProgress)
		}
		sum := md5.Sum(buf)
		return c.putSingle(ctx, p, bytes.NewReader(buf), size, sum[:], meta, cd)
	}
	partSize := c.partSize(size)
	buf, err := c.getBuf(ctx, partSize)
	if err != nil {
		return connectors.Entry{}, err
	}
	n, err := io.ReadFull(body, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		defer c.putBuf(buf)
		sum := md5.Sum(buf[:n])
		return c.putSingle(ctx, p, bytes.NewReader(buf[:n]), int64(n), sum[:], meta, cd)
	}
	if err != nil {
		c.putBuf(buf)
		return connectors.Entry{}, err
	}
	return c.putMultipart(ctx, p, buf, body, partSize, meta, cd)
}

// putSeekable hashes size bytes of r, goes back, and uploads them.
func (c *Conn) putSeekable(ctx context.Context, p string, r io.ReadSeeker, size int64, meta map[string]string, cd cond) (connectors.Entry, error) {
	start, err := r.Seek(0, io.SeekCurrent)
	if err != nil {
		return connectors.Entry{}, err
	}
	h := md5.New()
	if _, err := io.Copy(h, &exactReader{r: r, left: size, path: p}); err != nil {
		return connectors.Entry{}, err
	}
	if _, err := r.Seek(start, io.SeekStart); err != nil {
		return connectors.Entry{}, err
	}
	// Still checked: the content may change between the two reads (the
	// server then refuses it for its MD5).
	return c.putSingle(ctx, p, &exactReader{r: r, left: size, path: p}, size, h.Sum(nil), meta, cd)
}

// smallFile is the size up to which a body that cannot seek is buffered
// on its own rather than in a pool buffer: memory for those is bounded by
// the number of concurrent Puts.
const smallFile = 1 << 20

// partSize is the configured part size, grown for files that would
// otherwise need more than 10,000 parts.
func (c *Conn) partSize(size int64) int64 {
	ps := c.cfg.PartSize
	if need := (size + maxParts - 1) / maxParts; need > ps {
		ps = (need + 1<<20 - 1) &^ (1<<20 - 1)
	}
	return ps
}

// getBuf takes a part buffer of n bytes from the pool, waiting while all
// are in use.
func (c *Conn) getBuf(ctx context.Context, n int64) ([]byte, error) {
	select {
	case b := <-c.bufs:
		if int64(cap(b)) < n {
			b = make([]byte, n)
		}
		return b[:n], nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// putBuf returns a buffer to the pool; an outsized one (a grown part size)
// is dropped rather than kept.
func (c *Conn) putBuf(b []byte) {
	if int64(cap(b)) > c.cfg.PartSize {
		b = nil
	}
	c.bufs <- b
}

func (c *Conn) putSingle(ctx context.Context, p string, body io.Reader, size int64, sum []byte, meta map[string]string, cd cond) (connectors.Entry, error) {
	in := &s3.PutObjectInput{
		Bucket:        &c.cfg.Bucket,
		Key:           aws.String(c.key(p)),
		Body:          body,
		ContentLength: aws.Int64(size),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum)),
		Metadata:      meta,
	}
	setCond(&in.IfMatch, &in.IfNoneMatch, cd)
	out, err := c.client.PutObject(ctx, in, unsignedPayload)
	if err != nil {
		return connectors.Entry{}, err
	}
	e := connectors.Entry{Size: size, Rev: etagRev(out.ETag, nil, size)}
	encrypted := out.SSECustomerAlgorithm != nil ||
		(out.ServerSideEncryption != "" && out.ServerSideEncryption != types.ServerSideEncryptionAes256)
	want := hex.EncodeToString(sum)
	if etagMD5 := md5FromETag(aws.ToString(out.ETag), encrypted); etagMD5 != "" {
		if etagMD5 != want {
			return connectors.Entry{}, connectors.Errorf(connectors.Transient, "put", p,
				"the server stored content with MD5 %s, but %s was sent", etagMD5, want)
		}
		e.Hash = etagMD5
	}
	return e, nil
}

func setCond(ifMatch, ifNoneMatch **string, cd cond) {
	if cd.ifMatch != "" {
		*ifMatch = aws.String(cd.ifMatch)
	}
	if cd.ifAbsent {
		*ifNoneMatch = aws.String("*")
	}
}

// putMultipart uploads first (a full part, holding a pool buffer) and the
// rest of body in parts of partSize, up to Concurrency parts at a time,
// then completes the upload under cd. On any failure the upload is
// aborted, so neither a partial object nor stored parts remain.
func (c *Conn) putMultipart(ctx context.Context, p string, first []byte, body io.Reader, partSize int64, meta map[string]string, cd cond) (connectors.Entry, error) {
	// Fail early where the condition already does not hold; the
	// completion checks it again atomically.
	if cd.ifMatch != "" {
		if err := c.checkRev(ctx, p, cd.ifMatch); err != nil {
			c.putBuf(first)
			return connectors.Entry{}, err
		}
	}
	if cd.ifAbsent {
		if _, err := c.headFile(ctx, "put", p); err == nil {
			c.putBuf(first)
			return connectors.Entry{}, connectors.Errorf(connectors.Precondition, "put", p, "a file is there")
		}
	}
	key := aws.String(c.key(p))
	created, err := c.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &c.cfg.Bucket, Key: key, Metadata: meta})
	if err != nil {
		c.putBuf(first)
		return connectors.Entry{}, err
	}
	id := created.UploadId
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu       sync.Mutex
		parts    []types.CompletedPart
		firstErr error
		wg       sync.WaitGroup
		total    int64
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil
	}
	send := func(num int32, b []byte) {
		total += int64(len(b))
		wg.Go(func() {
			defer c.putBuf(b)
			sum := md5.Sum(b)
			out, err := c.client.UploadPart(pctx, &s3.UploadPartInput{
				Bucket:        &c.cfg.Bucket,
				Key:           key,
				UploadId:      id,
				PartNumber:    aws.Int32(num),
				Body:          bytes.NewReader(b),
				ContentLength: aws.Int64(int64(len(b))),
				ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
			}, unsignedPayload)
			if err != nil {
				fail(fmt.Errorf("part %d: %w", num, err))
				return
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
			mu.Unlock()
		})
	}
	send(1, first)
	for num := int32(2); !failed(); num++ {
		buf, err := c.getBuf(pctx, partSize)
		if err != nil {
			fail(err)
			break
		}
		n, rerr := io.ReadFull(body, buf)
		if n > 0 && num > maxParts {
			c.putBuf(buf)
			fail(connectors.Errorf(connectors.Invalid, "put", p, "more than %d parts of %d bytes: too large for an upload of unknown size", maxParts, partSize))
			break
		}
		if n > 0 {
			send(num, buf[:n])
		} else {
			c.putBuf(buf)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			fail(rerr)
			break
		}
	}
	wg.Wait()
	if firstErr != nil {
		c.abort(ctx, key, id)
		return connectors.Entry{}, firstErr
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	in := &s3.CompleteMultipartUploadInput{
		Bucket:          &c.cfg.Bucket,
		Key:             key,
		UploadId:        id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	setCond(&in.IfMatch, &in.IfNoneMatch, cd)
	out, err := c.client.CompleteMultipartUpload(ctx, in)
	if err != nil {
		c.abort(ctx, key, id)
		return connectors.Entry{}, err
	}
	return connectors.Entry{Size: total, Rev: etagRev(out.ETag, nil, total)}, nil
}

// abort drops a multipart upload and its stored parts, even when ctx is
// already cancelled. A part whose request the client gave up on may still
// be finishing at the server and bring the upload back (versitygw does),
// so abort checks that the upload is gone and aborts again if not.
func (c *Conn) abort(ctx context.Context, key, id *string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for try := 0; try < 10; try++ {
		c.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &c.cfg.Bucket, Key: key, UploadId: id})
		if !c.uploadExists(actx, key, id) {
			return
		}
		select {
		case <-actx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// uploadExists reports whether the multipart upload id of key is still
// listed (false also when listing fails: nothing more can be done then).
func (c *Conn) uploadExists(ctx context.Context, key, id *string) bool {
	out, err := c.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &c.cfg.Bucket, Prefix: key})
	if err != nil {
		return false
	}
	for _, u := range out.Uploads {
		if aws.ToString(u.Key) == aws.ToString(key) && aws.ToString(u.UploadId) == aws.ToString(id) {
			return true
		}
	}
	return false
}

// Recover aborts the multipart uploads left unfinished for the key of p
// (by a process killed mid-upload), which would otherwise keep their
// parts, invisible but billed, forever. Single PUTs leave no debris.
func (c *Conn) Recover(ctx context.Context, p string) error {
	if err := check("recover", p); err != nil {
		return err
	}
	key := c.key(p)
	in := &s3.ListMultipartUploadsInput{Bucket: &c.cfg.Bucket, Prefix: &key}
	for {
		out, err := c.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return classify("recover", p, err)
		}
		for _, u := range out.Uploads {
			if aws.ToString(u.Key) != key {
				continue
			}
			_, err := c.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &c.cfg.Bucket, Key: u.Key, UploadId: u.UploadId})
			if err != nil && status(err) != 404 {
				return classify("recover", p, err)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

var (
	errTooLong  = errors.New("the reader gave more bytes than announced")
	errTooShort = errors.New("the reader ended before the announced size")
)

// exactReader yields exactly left bytes of r or fails. It holds back the
// last bytes until it has seen r end, so an upload never completes with a
// reader that had more to give.
type exactReader struct {
	r    io.Reader
	left int64
	path string
}

func (x *exactReader) Read(p []byte) (int, error) {
	if x.left == 0 {
		return 0, x.probe()
	}
	if int64(len(p)) > x.left {
		p = p[:x.left]
	}
	n, err := x.r.Read(p)
	x.left -= int64(n)
	switch {
	case err == io.EOF && x.left > 0:
		return n, &connectors.Error{Kind: connectors.Invalid, Op: "put", Path: x.path, Err: errTooShort}
	case err != nil && err != io.EOF:
		return n, err
	case x.left == 0:
		if perr := x.probe(); perr != io.EOF {
			return 0, perr
		}
		return n, io.EOF
	}
	return n, nil
}

// probe returns io.EOF if r has nothing more, else an error.
func (x *exactReader) probe() error {
	var one [1]byte
	for range 100 {
		n, err := x.r.Read(one[:])
		if n > 0 {
			return &connectors.Error{Kind: connectors.Invalid, Op: "put", Path: x.path, Err: errTooLong}
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}
