package s3

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dovetail-sync/dovetail/connectors"
)

// copyLimit is the largest object one CopyObject may copy (5 GiB); larger
// ones are copied in parts. A variable so tests can lower it.
var copyLimit int64 = 5 << 30

// copyPartSize is the part size of a multipart copy.
const copyPartSize = 512 << 20

// Move renames a file or folder by copying every key at the server
// (CopyObject keeps the metadata, so the stored modification time moves
// with it) and then deleting the originals. S3 has no rename, so this is
// not atomic: an interrupted folder move leaves some keys at both places
// (never at neither), and a repeated Move or the next sync finishes it.
func (c *Conn) Move(ctx context.Context, from, to string) (connectors.Entry, error) {
	if err := check("move", from); err != nil {
		return connectors.Entry{}, err
	}
	if err := check("move", to); err != nil {
		return connectors.Entry{}, err
	}
	switch {
	case from == "" || to == "":
		return connectors.Entry{}, connectors.Errorf(connectors.Invalid, "move", from, "cannot move the root")
	case from != to && connectors.Within(to, from):
		return connectors.Entry{}, connectors.Errorf(connectors.Invalid, "move", from, "cannot move a folder into itself (%q)", to)
	}
	src, err := c.Stat(ctx, from)
	if err != nil {
		return connectors.Entry{}, err
	}
	if from == to {
		return src, nil
	}
	if _, err := c.Stat(ctx, to); err == nil {
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, "move", to, "something is already there")
	} else if !connectors.IsNotFound(err) {
		return connectors.Entry{}, err
	}
	if err := c.checkParents(ctx, "move", to); err != nil {
		return connectors.Entry{}, err
	}
	if src.IsDir() {
		if err := c.moveFolder(ctx, from, to); err != nil {
			return connectors.Entry{}, err
		}
		c.forgetDirs(from)
		c.knowDirs(to)
		if err := c.keepParent(ctx, "move", from); err != nil {
			return connectors.Entry{}, err
		}
		return connectors.Entry{Path: to, Kind: connectors.Dir}, nil
	}
	if err := c.copyObject(ctx, c.key(from), c.key(to), src.Size, src.Rev); err != nil {
		return connectors.Entry{}, classify("move", from, err)
	}
	c.knowDirs(connectors.Parent(to))
	if _, err := c.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &c.cfg.Bucket, Key: aws.String(c.key(from))}); err != nil {
		return connectors.Entry{}, classify("move", from, err)
	}
	if err := c.keepParent(ctx, "move", from); err != nil {
		return connectors.Entry{}, err
	}
	return c.headFile(ctx, "move", to)
}

// moveFolder moves every key below from to below to, a page at a time:
// the page's keys are copied (Concurrency at once), then deleted together.
func (c *Conn) moveFolder(ctx context.Context, from, to string) error {
	srcPrefix, dstPrefix := c.dirPrefix(from), c.dirPrefix(to)
	pages := s3.NewListObjectsV2Paginator(c.client, &s3.ListObjectsV2Input{Bucket: &c.cfg.Bucket, Prefix: &srcPrefix})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return classify("move", from, err)
		}
		sem := make(chan struct{}, c.cfg.Concurrency)
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			firstErr error
		)
		del := make([]types.ObjectIdentifier, 0, len(page.Contents))
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				dst := dstPrefix + strings.TrimPrefix(key, srcPrefix)
				var err error
				if strings.HasSuffix(key, "/") {
					// A folder marker has no content to copy (and some
					// servers, versitygw among them, refuse to copy one):
					// make a new one.
					_, err = c.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &c.cfg.Bucket, Key: aws.String(dst),
						Body: strings.NewReader(""), ContentLength: aws.Int64(0)})
				} else {
					err = c.copyObject(ctx, key, dst, aws.ToInt64(o.Size), etagRev(o.ETag, o.LastModified, 0))
				}
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, classify("move", from, fmt.Errorf("copying %q: %w", key, err)))
					mu.Unlock()
				}
			})
			del = append(del, types.ObjectIdentifier{Key: o.Key})
		}
		wg.Wait()
		if firstErr != nil {
			return firstErr
		}
		if len(del) == 0 {
			continue
		}
		out, err := c.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &c.cfg.Bucket, Delete: &types.Delete{Objects: del, Quiet: aws.Bool(true)}})
		if err != nil {
			return classify("move", from, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return connectors.Errorf(connectors.Unknown, "move", from, "deleting %q after copying it: %s %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	return nil
}

// copyObject copies the object at src (of size bytes, with Rev rev) to
// dst at the server, keeping its metadata.
func (c *Conn) copyObject(ctx context.Context, src, dst string, size int64, rev string) error {
	source := c.copySource(src)
	if size <= copyLimit {
		in := &s3.CopyObjectInput{
			Bucket:            &c.cfg.Bucket,
			Key:               &dst,
			CopySource:        &source,
			MetadataDirective: types.MetadataDirectiveCopy,
		}
		if isETag(rev) {
			in.CopySourceIfMatch = &rev
		}
		_, err := c.client.CopyObject(ctx, in)
		return err
	}
	head, err := c.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &c.cfg.Bucket, Key: &src})
	if err != nil {
		return err
	}
	created, err := c.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &c.cfg.Bucket, Key: &dst, Metadata: head.Metadata, ContentType: head.ContentType,
	})
	if err != nil {
		return err
	}
	partSize := max(copyPartSize, (size+maxParts-1)/maxParts)
	var parts []types.CompletedPart
	for num, off := int32(1), int64(0); off < size; num, off = num+1, off+partSize {
		end := min(off+partSize, size) - 1
		in := &s3.UploadPartCopyInput{
			Bucket:          &c.cfg.Bucket,
			Key:             &dst,
			UploadId:        created.UploadId,
			PartNumber:      aws.Int32(num),
			CopySource:      &source,
			CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
		}
		if isETag(rev) {
			in.CopySourceIfMatch = &rev
		}
		out, err := c.client.UploadPartCopy(ctx, in)
		if err != nil {
			c.abort(ctx, &dst, created.UploadId)
			return err
		}
		parts = append(parts, types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(num)})
	}
	_, err = c.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &c.cfg.Bucket, Key: &dst, UploadId: created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		c.abort(ctx, &dst, created.UploadId)
	}
	return err
}

// copySource is the x-amz-copy-source value for key: "bucket/key",
// URL-encoded ("+" too, which some servers would read as a space).
func (c *Conn) copySource(key string) string {
	u := url.URL{Path: c.cfg.Bucket + "/" + key}
	return strings.ReplaceAll(u.EscapedPath(), "+", "%2B")
}
