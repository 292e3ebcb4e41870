package webdav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
)

// propfindBody asks for the four properties Dovetail uses, and no others
// (an allprop request makes some servers compute expensive ones).
const propfindBody = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/></D:prop></D:propfind>`

// resource is one <response> of a PROPFIND answer.
type resource struct {
	href  string
	segs  []string // decoded path names of href; nil if err is set
	err   error    // href could not be decoded
	dir   bool
	size  int64
	mtime time.Time
	etag  string
}

// rev is the version token of r: its ETag without the weak marker.
// Apache marks an ETag weak (W/"...") while the file's modification time
// is within the second of the request, and strong afterwards, for the same
// content; both must give the same Rev. A server without ETags gets size
// and time, which change with nearly every write.
func (r resource) rev() string {
	if e := strings.TrimPrefix(r.etag, "W/"); e != "" {
		return e
	}
	return fmt.Sprintf("%d-%d", r.size, r.mtime.Unix())
}

type davResponse struct {
	Href     []string      `xml:"DAV: href"`
	Propstat []davPropstat `xml:"DAV: propstat"`
}

type davPropstat struct {
	Status string `xml:"DAV: status"`
	Prop   struct {
		ResourceType struct {
			Collection *struct{} `xml:"DAV: collection"`
		} `xml:"DAV: resourcetype"`
		ContentLength string `xml:"DAV: getcontentlength"`
		LastModified  string `xml:"DAV: getlastmodified"`
		ETag          string `xml:"DAV: getetag"`
	} `xml:"DAV: prop"`
}

// propfind lists the resource at the relative path p with the given depth
// ("0" or "1") and calls fn with each <response> as it is decoded, so a
// large folder is never held in memory whole. fn's errors are returned
// as they are.
func (c *Conn) propfind(ctx context.Context, op, p string, depth string, fn func(resource) error) error {
	hdr := http.Header{
		"Depth":        {depth},
		"Content-Type": {"application/xml; charset=utf-8"},
	}
	target := c.url(p, p == "")
	resp, err := c.send(ctx, op, p, "PROPFIND", target, hdr, strings.NewReader(propfindBody), int64(len(propfindBody)))
	if err == nil && resp.StatusCode/100 == 3 && !strings.HasSuffix(target, "/") {
		// Some servers redirect a folder's URL to the one with a
		// trailing slash; follow that one redirect, and no other.
		if loc, lerr := resp.Location(); lerr == nil && loc.String() == target+"/" {
			drain(resp)
			resp, err = c.send(ctx, op, p, "PROPFIND", target+"/", hdr, strings.NewReader(propfindBody), int64(len(propfindBody)))
		}
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		return c.statusError(op, p, resp)
	}
	body := &errRecorder{r: resp.Body}
	dec := xml.NewDecoder(body)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return c.decodeError(ctx, op, p, body, err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok || start.Name.Space != "DAV:" || start.Name.Local != "response" {
			continue
		}
		var dr davResponse
		if err := dec.DecodeElement(&dr, &start); err != nil {
			return c.decodeError(ctx, op, p, body, err)
		}
		r, ok := dr.resource()
		if !ok {
			continue // a status-only response: nothing to report
		}
		if err := fn(r); err != nil {
			return err
		}
	}
}

func (c *Conn) decodeError(ctx context.Context, op, p string, body *errRecorder, err error) error {
	if body.err != nil {
		return netError(ctx, op, p, body.err)
	}
	return connectors.Errorf(connectors.Unknown, op, p, "the server's listing is not valid WebDAV XML: %v", err)
}

// resource picks the properties of the successful propstat. ok is false
// for a response that carries no properties (a member the server could
// not describe).
func (dr *davResponse) resource() (r resource, ok bool) {
	if len(dr.Href) == 0 {
		return r, false
	}
	r.href = strings.TrimSpace(dr.Href[0])
	for _, ps := range dr.Propstat {
		if !statusOK(ps.Status) {
			continue
		}
		ok = true
		pr := ps.Prop
		if pr.ResourceType.Collection != nil {
			r.dir = true
		}
		if v := strings.TrimSpace(pr.ContentLength); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				r.err = fmt.Errorf("getcontentlength %q is not a size", v)
			}
			r.size = n
		}
		if v := strings.TrimSpace(pr.LastModified); v != "" {
			if t, err := http.ParseTime(v); err == nil {
				r.mtime = t
			}
		}
		if v := strings.TrimSpace(pr.ETag); v != "" {
			r.etag = v
		}
	}
	if !ok {
		return r, false
	}
	if r.dir {
		r.size = 0
	}
	if r.err == nil {
		r.segs, r.err = hrefSegments(r.href)
	}
	return r, true
}

// statusOK reports whether a propstat status line ("HTTP/1.1 200 OK") is
// a success.
func statusOK(s string) bool {
	f := strings.Fields(s)
	return len(f) >= 2 && len(f[1]) == 3 && f[1][0] == '2'
}

// hrefSegments decodes an href, an absolute URL or an absolute path, both
// percent-encoded, into the names of its path.
func hrefSegments(href string) ([]string, error) {
	u, err := url.Parse(href)
	if err != nil {
		return nil, fmt.Errorf("href %q: %w", href, err)
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("href %q is not a path", href)
	}
	segs, err := splitEscaped(u.EscapedPath())
	if err != nil {
		return nil, fmt.Errorf("href %q %w", href, err)
	}
	return segs, nil
}

// under returns what follows prefix in segs, and whether segs starts with
// prefix.
func under(segs, prefix []string) ([]string, bool) {
	if len(segs) < len(prefix) {
		return nil, false
	}
	for i, s := range prefix {
		if segs[i] != s {
			return nil, false
		}
	}
	return segs[len(prefix):], true
}

// segsOf returns the server path names of the relative path p.
func (c *Conn) segsOf(p string) []string {
	segs := append([]string(nil), c.root...)
	if p != "" {
		segs = append(segs, strings.Split(p, "/")...)
	}
	return segs
}

// errNotDescribed says a PROPFIND answer did not describe the resource
// asked about.
var errNotDescribed = errors.New("the server's answer does not describe it")

// stat returns the entry at p, for op.
func (c *Conn) stat(ctx context.Context, op, p string) (connectors.Entry, error) {
	want := c.segsOf(p)
	var found *connectors.Entry
	err := c.propfind(ctx, op, p, "0", func(r resource) error {
		if r.err != nil {
			return nil
		}
		if rest, ok := under(r.segs, want); ok && len(rest) == 0 {
			e := entryOf(p, r)
			found = &e
		}
		return nil
	})
	if err != nil {
		return connectors.Entry{}, err
	}
	if found == nil {
		return connectors.Entry{}, &connectors.Error{Kind: connectors.Unknown, Op: op, Path: p, Err: errNotDescribed}
	}
	return *found, nil
}

func entryOf(p string, r resource) connectors.Entry {
	e := connectors.Entry{Path: p, Kind: connectors.File, Size: r.size, ModTime: r.mtime, Rev: r.rev()}
	if r.dir {
		e.Kind = connectors.Dir
	}
	return e
}
