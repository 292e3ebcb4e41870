package rules

import (
	"fmt"
	"testing"
)

type walkEntry struct {
	path string
	dir  bool
}

// genTree makes n paths in walk order (a folder before its contents): a
// photo/document tree a few levels deep with some OS junk sprinkled in.
func genTree(n int) []walkEntry {
	var out []walkEntry
	names := []string{"IMG_%04d.jpg", "report-%d.docx", "notes %d.txt", "track%02d.flac", "clip-%d.mp4", "data_%d.csv"}
	junk := []string{".DS_Store", "Thumbs.db", "desktop.ini", "._IMG_%04d.jpg", "~$report-%d.docx", ".notes-%d.txt.swp", "video-%d.mp4.part"}
	seq := 0
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		for i := 0; i < 8 && len(out) < n; i++ {
			seq++
			var name string
			if seq%17 == 0 {
				name = junk[seq%len(junk)]
			} else {
				name = names[seq%len(names)]
			}
			if c := countVerbs(name); c > 0 {
				name = fmt.Sprintf(name, seq)
			}
			out = append(out, walkEntry{dir + name, false})
		}
		if depth == 5 {
			return
		}
		for i := 0; i < 4 && len(out) < n; i++ {
			seq++
			name := fmt.Sprintf("folder %d", seq)
			switch seq % 23 {
			case 0:
				name = "@eaDir"
			case 7:
				name = "node_modules"
			}
			out = append(out, walkEntry{dir + name, true})
			walk(dir+name+"/", depth+1)
		}
	}
	for len(out) < n {
		seq++
		root := fmt.Sprintf("top%d", seq)
		out = append(out, walkEntry{root, true})
		walk(root+"/", 1)
	}
	return out[:n]
}

func countVerbs(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			n++
		}
	}
	return n
}

func BenchmarkTrackerDefault(b *testing.B) {
	f, err := Build(nil, false)
	if err != nil {
		b.Fatal(err)
	}
	paths := genTree(100_000)
	excluded := 0
	b.ResetTimer()
	for b.Loop() {
		tr := f.NewTracker()
		excluded = 0
		for _, e := range paths {
			if tr.Excluded(e.path, e.dir) {
				excluded++
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(paths)), "ns/path")
	b.ReportMetric(float64(excluded), "excluded")
}

func BenchmarkFilterDefault(b *testing.B) {
	f, err := Build(nil, false)
	if err != nil {
		b.Fatal(err)
	}
	paths := genTree(100_000)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		e := paths[i%len(paths)]
		f.Excluded(e.path, e.dir)
	}
}
