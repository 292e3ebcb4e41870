package connectors

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// TempPrefix starts the name of every temporary file a connector writes
// next to its destination before renaming it into place. Walk never
// reports such files, and Dovetail's default ignore list leaves them out.
const TempPrefix = ".dovetail.tmp."

// tempRandLen is the length of a temporary name's random part (hex).
const tempRandLen = 12

// TempName returns a fresh temporary name for a write to the file name:
// TempPrefix, name (cut at a character boundary so that the whole, plus
// reserve bytes of suffix the caller may add, fits the 255 bytes a name
// may have), a dot and 12 random hex digits.
func TempName(name string, reserve int) string {
	var rnd [tempRandLen / 2]byte
	rand.Read(rnd[:])
	return TempPrefix + truncTemp(name, reserve) + "." + hex.EncodeToString(rnd[:])
}

// TempOf reports whether entry is a name that TempName(name, reserve)
// made, possibly followed by a suffix, which it returns.
func TempOf(entry, name string, reserve int) (suffix string, ok bool) {
	rest, ok := strings.CutPrefix(entry, TempPrefix+truncTemp(name, reserve)+".")
	if !ok || len(rest) < tempRandLen {
		return "", false
	}
	if _, err := hex.DecodeString(rest[:tempRandLen]); err != nil {
		return "", false
	}
	return rest[tempRandLen:], true
}

func truncTemp(name string, reserve int) string {
	max := 255 - len(TempPrefix) - 1 - tempRandLen - reserve
	if len(name) <= max {
		return name
	}
	i := max
	for i > 0 && !utf8.RuneStart(name[i]) {
		i--
	}
	return name[:i]
}
