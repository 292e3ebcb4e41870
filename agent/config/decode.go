package config

import (
	"encoding"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder walks a YAML node tree into Go values, in the manner of
// yaml.v3's own decoder with KnownFields(true), but reporting every
// problem (unknown key, wrong kind of value, bad value) with its line and
// key path instead of stopping at the first, and recording the line of
// every key so that Validate can point at it too.
type decoder struct {
	file     string
	lines    map[string]int
	failed   map[string]bool // key paths whose values could not be decoded
	problems []Problem
	// nodes counts the nodes decoded, aliases followed included, to stop
	// a "billion laughs" file (aliases of aliases) from exploding.
	nodes    int
	exploded bool
}

// tooBig reports, once, a file that expands beyond maxNodes.
func (d *decoder) tooBig(n *yaml.Node, path string) {
	if !d.exploded {
		d.exploded = true
		d.fail(n, path, "the file expands to more than %d values through aliases; is it a configuration?", maxNodes)
	}
}

// maxNodes is far above any real configuration (a thousand tasks with
// every option is about 100,000).
const maxNodes = 1_000_000

// nodeDecoder is implemented by types that read their own YAML form.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string)
}

// defaulter is implemented by types whose new values start from defaults
// rather than zero (a Task in the list of tasks).
type defaulter interface{ setDefaults() }

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.failed[path] = true
	d.problems = append(d.problems, Problem{File: d.file, Line: n.Line, Field: path, Msg: fmt.Sprintf(format, args...)})
}

// parse reads data into v, which must be a pointer to a struct. It
// returns false if data is not YAML at all.
func (d *decoder) parse(data []byte, v any) bool {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.problems = append(d.problems, syntaxProblem(d.file, err))
		return false
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return true // an empty file
	}
	d.decodeValue(doc.Content[0], v, "")
	return true
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem turns a YAML syntax error into a Problem with a line.
func syntaxProblem(file string, err error) Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: file, Line: line, Msg: "YAML syntax: " + m[2]}
	}
	return Problem{File: file, Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

// decodeValue decodes n into the value v points to.
func (d *decoder) decodeValue(n *yaml.Node, v any, path string) {
	d.decode(n, reflect.ValueOf(v).Elem(), path)
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.nodes++; d.nodes > maxNodes {
		d.tooBig(n, path)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" with no value keeps the default
	}
	if v.CanAddr() {
		switch u := v.Addr().Interface().(type) {
		case nodeDecoder:
			u.decodeNode(d, n, path)
			return
		case encoding.TextUnmarshaler:
			d.text(n, u, path)
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(newValue(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

// newValue returns a pointer to a new value of t, with its defaults.
func newValue(t reflect.Type) reflect.Value {
	p := reflect.New(t)
	if df, ok := p.Interface().(defaulter); ok {
		df.setDefaults()
	}
	return p
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping (key: value lines)"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// text decodes a scalar through UnmarshalText; a list of scalars is read
// as their comma-separated join ("days: [mon, tue]" as "mon,tue").
func (d *decoder) text(n *yaml.Node, u encoding.TextUnmarshaler, path string) {
	var s string
	switch n.Kind {
	case yaml.ScalarNode:
		s = n.Value
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				d.fail(item, path, "want a single value, got %s", kindName(item))
				return
			}
			parts = append(parts, item.Value)
		}
		s = strings.Join(parts, ",")
	default:
		d.fail(n, path, "want a single value, got %s", kindName(n))
		return
	}
	if err := u.UnmarshalText([]byte(s)); err != nil {
		d.fail(n, path, "%v", err)
	}
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want a single value, got %s", kindName(n))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on":
			v.SetBool(true)
		case "false", "no", "off":
			v.SetBool(false)
		default:
			d.fail(n, path, "want true or false, got %q", n.Value)
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 10, 64)
		if err != nil || v.OverflowInt(i) {
			d.fail(n, path, "want a whole number, got %q", n.Value)
			return
		}
		v.SetInt(i)
	default:
		panic("config: cannot decode into " + v.Type().String())
	}
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	items := n.Content
	switch n.Kind {
	case yaml.SequenceNode:
	case yaml.ScalarNode:
		if v.Type().Elem().Kind() == reflect.String {
			items = []*yaml.Node{n} // "exclude: '*.tmp'" is a list of one
			break
		}
		fallthrough
	default:
		d.fail(n, path, "want a list, got %s", kindName(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), 0, len(items))
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		elem := newValue(v.Type().Elem()).Elem()
		d.decode(item, elem, p)
		out = reflect.Append(out, elem)
	}
	v.Set(out)
}

// pairs returns the key/value pairs of a mapping, with YAML merge keys
// ("<<: *defaults") expanded: merged keys that the mapping does not set
// itself come first. A key given twice is reported.
func (d *decoder) pairs(n *yaml.Node, path string) [][2]*yaml.Node {
	var merged, own [][2]*yaml.Node
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if d.nodes++; d.nodes > maxNodes {
			d.tooBig(n, path)
			return nil
		}
		if k.Tag == "!!merge" {
			merged = append(merged, d.mergeSource(val, path)...)
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.fail(k, path, "key %q given twice (first at line %d)", k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		own = append(own, [2]*yaml.Node{k, val})
	}
	var out [][2]*yaml.Node
	for _, kv := range merged {
		if _, dup := seen[kv[0].Value]; !dup {
			seen[kv[0].Value] = kv[0].Line
			out = append(out, kv)
		}
	}
	return append(out, own...)
}

// mergeSource returns the pairs a merge key brings in: those of one
// mapping, or of a list of mappings where earlier ones win.
func (d *decoder) mergeSource(n *yaml.Node, path string) [][2]*yaml.Node {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		return d.pairs(n, path)
	case yaml.SequenceNode:
		var out [][2]*yaml.Node
		for _, item := range n.Content {
			out = append(out, d.mergeSource(item, path)...)
		}
		return out
	}
	d.fail(n, path, "a merge key (<<) must refer to a mapping")
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// structure decodes a mapping into a struct by the fields' yaml tags.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping (key: value lines), got %s", kindName(n))
		return
	}
	fields := yamlFields(v.Type())
	for _, kv := range d.pairs(n, path) {
		k, val := kv[0], kv[1]
		idx, ok := fields[k.Value]
		if !ok && path == "" && strings.HasPrefix(k.Value, "x-") {
			continue // an extension key, for anchors to merge from
		}
		if !ok {
			d.unknownKey(k, path, slices.Sorted(maps.Keys(fields)))
			continue
		}
		p := join(path, k.Value)
		d.lines[p] = k.Line
		d.decode(val, v.Field(idx), p)
	}
}

// mapping decodes a mapping into a map with string keys.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping (name: value lines), got %s", kindName(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for _, kv := range d.pairs(n, path) {
		k, val := kv[0], kv[1]
		p := join(path, k.Value)
		d.lines[p] = k.Line
		elem := newValue(v.Type().Elem()).Elem()
		d.decode(val, elem, p)
		v.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
}

// yamlFields maps the yaml key of each field of struct type t to its index.
func yamlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		out[name] = i
	}
	return out
}

// synonyms are keys people write for ones that exist under another name.
var synonyms = map[string]string{
	"bandwidth": "bwlimit", "bw_limit": "bwlimit", "bandwidth_limit": "bwlimit",
	"exclude_from": "filter_from", "filters_from": "filter_from",
	"folder": "folders", "delete_threshold": "max_delete",
	"interval": "poll", "polling": "poll", "poll_interval": "poll",
	"threads": "workers", "transfers": "workers", "concurrency": "workers",
	"cron": "schedule", "window": "windows", "disabled": "enabled",
	"conflicts": "conflict", "on_conflict": "conflict", "mode": "direction",
	"source": "local", "destination": "remote", "dest": "remote", "target": "remote",
	"kind": "type", "username": "user", "login": "user",
	"identity_file": "key_file", "key": "key_file", "private_key": "key_file",
}

func (d *decoder) unknownKey(k *yaml.Node, path string, known []string) {
	msg := fmt.Sprintf("unknown key %q", k.Value)
	if s := suggest(k.Value, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	} else {
		msg += " (known keys: " + strings.Join(known, ", ") + ")"
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: k.Line, Field: path, Msg: msg})
}

// suggest returns the known key closest to key, or "" if none is close.
func suggest(key string, known []string) string {
	low := strings.ToLower(strings.ReplaceAll(key, "-", "_"))
	if s, ok := synonyms[low]; ok && slices.Contains(known, s) {
		return s
	}
	best, bestDist := "", 0
	for _, k := range known {
		if dist := editDistance(low, k); best == "" || dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" && bestDist <= max(1, len(best)/3) {
		return best
	}
	return ""
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours ("form"
// for "from") each count one.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
