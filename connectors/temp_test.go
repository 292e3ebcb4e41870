package connectors

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTempName(t *testing.T) {
	for _, name := range []string{"a.txt", strings.Repeat("é", 127), strings.Repeat("x", 255), ".hidden"} {
		for _, reserve := range []int{0, 4} {
			tmp := TempName(name, reserve)
			if len(tmp)+reserve > 255 || !utf8.ValidString(tmp) || !strings.HasPrefix(tmp, TempPrefix) {
				t.Errorf("TempName(%q, %d) = %q (%d bytes)", name, reserve, tmp, len(tmp))
			}
			if suffix, ok := TempOf(tmp, name, reserve); !ok || suffix != "" {
				t.Errorf("TempOf(TempName(%q)) = %q, %v", name, suffix, ok)
			}
			if suffix, ok := TempOf(tmp+".old", name, reserve); !ok || suffix != ".old" {
				t.Errorf("TempOf with suffix = %q, %v", suffix, ok)
			}
			if _, ok := TempOf(tmp, "other", reserve); ok && name != "other" {
				t.Errorf("TempOf(%q, other) matched", tmp)
			}
		}
	}
	if TempName("a", 0) == TempName("a", 0) {
		t.Error("two temporary names are equal")
	}
	if _, ok := TempOf(TempPrefix+"a.zzzzzzzzzzzz", "a", 0); ok {
		t.Error("a non-hex random part matched")
	}
}
