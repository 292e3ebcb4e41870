package s3

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dovetail-sync/dovetail/connectors"
)

// headConcurrency is how many HEAD requests Walk has in flight to read
// stored modification times.
const headConcurrency = 16

// Walk lists everything below dir with one paged ListObjectsV2 over its
// prefix (no delimiter), page by page. Folders exist only through the keys
// below them (or a "dir/" marker): S3 lists keys in byte order, which keeps
// every folder's keys together, so a folder is reported when its first key
// comes, before anything inside it. Unless Config.ServerModTime is set,
// each page's files are then HEADed (concurrently) for their stored
// modification times, which listings do not carry.
//
// Keys that are not valid paths ("a//b", "../x") and a name that is both a
// file and a folder at the server are reported through problem.
func (c *Conn) Walk(ctx context.Context, dir string, fn func(connectors.Entry) error, problem func(string, error)) error {
	if err := check("walk", dir); err != nil {
		return err
	}
	prefix := c.dirPrefix(dir)
	w := walker{dir: dir, fn: fn, problem: problem}
	pages := s3.NewListObjectsV2Paginator(c.client, &s3.ListObjectsV2Input{Bucket: &c.cfg.Bucket, Prefix: &prefix})
	seen := false
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return classify("walk", dir, err)
		}
		seen = seen || len(page.Contents) > 0
		entries, err := c.pageEntries(ctx, dir, prefix, page.Contents, &w)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := w.add(e); err != nil {
				return err
			}
		}
	}
	if !seen && dir != "" {
		return connectors.Errorf(connectors.NotFound, "walk", dir, "no such folder")
	}
	return nil
}

// item is one key of a page, turned into a path.
type item struct {
	path   string
	marker bool // a "dir/" folder marker
	entry  connectors.Entry
	err    error // the key is not a valid path
	gone   bool  // deleted between the listing and its HEAD
}

// pageEntries turns a page of keys into items, with file entries complete
// (HEADed for their times where needed).
func (c *Conn) pageEntries(ctx context.Context, dir, prefix string, objs []types.Object, w *walker) ([]item, error) {
	items := make([]item, 0, len(objs))
	for _, o := range objs {
		rel := strings.TrimPrefix(aws.ToString(o.Key), prefix)
		if rel == "" {
			continue // dir's own marker
		}
		it := item{marker: strings.HasSuffix(rel, "/")}
		rel = strings.TrimSuffix(rel, "/")
		if err := connectors.ValidPath(rel); err != nil {
			it.path, it.err = connectors.Join(dir, rel), err
			items = append(items, it)
			continue
		}
		it.path = connectors.Join(dir, rel)
		size := aws.ToInt64(o.Size)
		if it.marker {
			it.entry = connectors.Entry{Path: it.path, Kind: connectors.Dir, ModTime: aws.ToTime(o.LastModified)}
		} else {
			it.entry = connectors.Entry{
				Path:    it.path,
				Kind:    connectors.File,
				Size:    size,
				ModTime: aws.ToTime(o.LastModified),
				Rev:     etagRev(o.ETag, o.LastModified, size),
				// A listing does not say whether an object is encrypted
				// with KMS; the HEAD below does, where it is made.
				Hash: md5FromETag(aws.ToString(o.ETag), false),
			}
		}
		items = append(items, it)
	}
	if c.cfg.ServerModTime {
		return items, nil
	}
	sem := make(chan struct{}, headConcurrency)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for i := range items {
		it := &items[i]
		if it.err != nil || it.marker || w.skipped(it.path) {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return nil, classify("walk", dir, ctx.Err())
		}
		wg.Go(func() {
			defer func() { <-sem }()
			e, err := c.headFile(ctx, "walk", it.path)
			switch {
			case err == nil:
				it.entry = e
			case connectors.IsNotFound(err):
				it.gone = true
			default:
				mu.Lock()
				firstErr = cmpErr(firstErr, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return items, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// walker reports listed keys as entries in order, synthesizing the folders
// that keys imply.
type walker struct {
	dir     string
	fn      func(connectors.Entry) error
	problem func(string, error)
	open    []string // folders reported that may still have keys coming, outermost first
	files   []string // files reported whose path is a string prefix of the current key
	skip    string   // a folder whose keys are being skipped, or ""
}

func (w *walker) skipped(p string) bool {
	return w.skip != "" && connectors.Within(p, w.skip)
}

var errFileAndFolder = errors.New("is both a file and a folder at the server (keys \"x\" and \"x/...\"); only the file is listed")

func (w *walker) add(it item) error {
	if it.err != nil {
		w.problem(it.path, it.err)
		return nil
	}
	if it.gone || w.skipped(it.path) {
		return nil
	}
	w.skip = ""
	// Files that are no string prefix of this key can never clash with a
	// later folder: keys sharing a prefix come together.
	for len(w.files) > 0 && !strings.HasPrefix(it.path, w.files[len(w.files)-1]) {
		w.files = w.files[:len(w.files)-1]
	}
	for len(w.open) > 0 && !connectors.Within(it.path, w.open[len(w.open)-1]) {
		w.open = w.open[:len(w.open)-1]
	}
	// Report the folders between the innermost open one and the key.
	top := w.dir
	if len(w.open) > 0 {
		top = w.open[len(w.open)-1]
	}
	var missing []string
	for d := connectors.Parent(it.path); d != top && d != w.dir && d != ""; d = connectors.Parent(d) {
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if stop, err := w.folder(connectors.Entry{Path: missing[i], Kind: connectors.Dir}); stop || err != nil {
			return err
		}
	}
	if it.marker {
		if len(w.open) > 0 && w.open[len(w.open)-1] == it.path {
			return nil
		}
		_, err := w.folder(it.entry)
		return err
	}
	w.files = append(w.files, it.path)
	if err := w.fn(it.entry); err != nil && err != connectors.SkipDir {
		return err
	}
	return nil
}

// folder reports a folder entry; stop is true when its keys are to be
// skipped (by SkipDir, or because a file has the same path).
func (w *walker) folder(e connectors.Entry) (stop bool, err error) {
	for _, f := range w.files {
		if f == e.Path {
			w.problem(e.Path, errFileAndFolder)
			w.skip = e.Path
			return true, nil
		}
	}
	err = w.fn(e)
	if err == connectors.SkipDir {
		w.skip = e.Path
		return true, nil
	}
	if err != nil {
		return true, err
	}
	w.open = append(w.open, e.Path)
	return false, nil
}
