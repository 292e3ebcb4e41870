package rules

import (
	"fmt"
	"sort"
	"strings"
)

// Unit says how a provider counts the length of a name or a path.
type Unit int

const (
	// Bytes counts the bytes of the UTF-8 encoding ("é" is 2).
	Bytes Unit = iota
	// Chars counts Unicode code points ("é" is 1, "😀" is 1).
	Chars
	// UTF16 counts UTF-16 code units, as Windows, .NET and Java do ("é" is
	// 1, "😀" is 2).
	UTF16
)

func (u Unit) String() string {
	switch u {
	case Bytes:
		return "bytes"
	case Chars:
		return "characters"
	case UTF16:
		return "UTF-16 units"
	}
	return fmt.Sprintf("Unit(%d)", int(u))
}

// A RuleSet is what one storage provider accepts as a path: the characters
// it refuses, the names it reserves, how long a name and a path may be, how
// big a file may be, and whether it tells names apart by case. Dovetail
// checks every path against the rule set of the side it is about to write
// to (connectors.Features.Rules) and, when a path breaks a rule, does not
// transfer it, deletes nothing because of it, and reports it once.
//
// Rule sets are plain data, one struct literal per provider below; every
// value cites where it comes from. docs/providers.md is the user-facing
// version of the same table.
type RuleSet struct {
	// Name is the identifier used in configuration and on the command
	// line (dovetail check --for NAME).
	Name string
	// Title is the provider's name for humans ("Google Drive").
	Title string

	// ForbiddenChars are characters that may not appear anywhere in a
	// name. "/" is the path separator everywhere and never part of a name;
	// NUL (0x00) is refused by every rule set whatever this says.
	ForbiddenChars string
	// ForbiddenControl forbids the control characters 0x01-0x1F.
	ForbiddenControl bool
	// NoTrailing are characters a name may not end with, NoLeading
	// characters it may not begin with.
	NoTrailing string
	NoLeading  string

	// Reserved are names that may not be used for a file or folder.
	Reserved []string
	// ReservedIgnoreExt makes a reserved name without a dot also reserved
	// with any extension: "CON" reserves "CON.txt" and "con.tar.gz" (the
	// part before the first dot, trailing spaces removed, is compared).
	// Reserved names that contain a dot ("desktop.ini") match exactly.
	ReservedIgnoreExt bool
	// ReservedFold compares reserved names case-insensitively.
	ReservedFold bool
	// ReservedPrefixes are beginnings a name may not have ("~$").
	ReservedPrefixes []string
	// ReservedContains are strings a name may not contain ("_vti_").
	// Prefixes and substrings are compared case-insensitively when
	// ReservedFold is set.
	ReservedContains []string

	// MaxName is the longest name (one path element) in NameUnit; 0 means
	// no limit. MaxPath is the longest relative path below the sync root,
	// elements joined by "/", in PathUnit; 0 means no limit.
	MaxName  int
	NameUnit Unit
	MaxPath  int
	PathUnit Unit

	// MaxFileSize is the largest file in bytes; 0 means no limit known.
	MaxFileSize int64

	// CaseInsensitive reports that two names differing only in case are
	// the same object (Readme.md and README.md cannot both exist).
	CaseInsensitive bool
	// Normalization is the Unicode normalization form the provider
	// converts names to when storing them ("NFC", "NFD"), so that a name
	// may come back in another form than it was written in; "" means names
	// are stored as given. Whatever this says, FoldKey treats NFC and NFD
	// forms of a name as the same name at every provider: some providers
	// compare normalization-insensitively (macOS APFS), and two names that
	// look identical are a trap even where they are distinct.
	Normalization string

	// Source summarises where the values come from; the comments on each
	// literal below give the detail.
	Source string
}

const (
	kB = 1000
	mB = 1000 * kB
	gB = 1000 * mB
	tB = 1000 * gB

	tiB = int64(1) << 40
	miB = int64(1) << 20
)

// The rule sets. Sources, cited in the comments:
//
//	[linux-limits]  Linux include/uapi/linux/limits.h: NAME_MAX 255 ("chars
//	                in a file name", bytes), PATH_MAX 4096 ("chars in a path
//	                name including nul").
//	[darwin-limits] Darwin sys/syslimits.h: NAME_MAX 255, PATH_MAX 1024 (bytes).
//	[apfs-faq]      Apple, APFS Guide FAQ (quoted at mjtsai.com, 2017-03-31,
//	                "APFS to Add Case-Insensitive Variant for Mac"): "The
//	                case-insensitive variant of APFS is normalization-preserving,
//	                but not normalization-sensitive ... Filenames in APFS are
//	                encoded in UTF-8 and aren't normalized. HFS+ ... normalized
//	                according to Unicode 3.2 Normalization Form D".
//	[win-naming]    Microsoft Learn, "Naming Files, Paths, and Namespaces"
//	                (learn.microsoft.com/windows/win32/fileio/naming-a-file).
//	[synology]      Synology Cloud Sync help, "files will not be synced ...
//	                under the following circumstances" per provider
//	                (/work/shared/seeds/002_a794ef591b2208f9.txt).
//	[ms-onedrive]   Microsoft support, "Invalid file names and file types in
//	                OneDrive and SharePoint" / "Restrictions and limitations in
//	                OneDrive and SharePoint" (support.office.com/.../64883a5d-...).
//	[rclone]        rclone docs, "Overview of cloud storage systems"
//	                (rclone.org/overview, case-insensitivity column) and the
//	                per-backend encodings (pkg.go.dev/github.com/rclone/rclone/fs/encodings).
//	[dropbox-names] Dropbox Help Center, "Naming Dropbox files and folders"
//	                (help.dropbox.com/organize/file-names).
//	[dropbox-api]   Dropbox API docs, files/upload_session/start: "The maximum
//	                size of a file one can upload to an upload session is 350 GB."
//	[s3-keys]       AWS, "Naming Amazon S3 objects"
//	                (docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html).
//	[s3-limits]     AWS, "Amazon S3 multipart upload limits"
//	                (docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html).
//	[b2-files]      Backblaze, "Files" (backblaze.com/b2/docs/files.html).
//	[b2-large]      Backblaze, "Large Files" (backblaze.com/docs/cloud-storage-large-files).
//	[azure-naming]  Microsoft Learn, "Naming and Referencing Containers, Blobs,
//	                and Metadata" (learn.microsoft.com/rest/api/storageservices/
//	                Naming-and-Referencing-Containers--Blobs--and-Metadata).
//	[azure-scale]   Microsoft Learn, "Scalability and performance targets for
//	                Blob storage" (learn.microsoft.com/azure/storage/blobs/scalability-targets).
//	[nextcloud]     Nextcloud FilenameValidator forbids characters 0-31 (as
//	                reported in the rostdav 0.5.1 release notes).
//
// Where a value is not documented the comment says so and the value is the
// conservative choice: for a name length, 255 bytes, the smallest limit of
// the common local file systems, so whatever is stored can also be synced
// back to a disk.
var ruleSets = []*RuleSet{
	{
		Name:  "linux",
		Title: "Linux",
		// Only "/" and NUL are impossible in a Linux file name [linux-limits].
		ForbiddenChars: "",
		// Names are bytes: NAME_MAX is 255 bytes [linux-limits].
		MaxName: 255, NameUnit: Bytes,
		// PATH_MAX 4096 including the terminating NUL [linux-limits]; the
		// absolute path of the sync root counts too, which Dovetail cannot
		// know here, so this only catches what can never work.
		MaxPath: 4095, PathUnit: Bytes,
		// The largest file depends on the file system (ext4 with 4 KiB
		// blocks: 16 TiB); not a property of Linux: no limit here, a write
		// that is too big fails with its own error.
		MaxFileSize: 0,
		// ext4, xfs, btrfs compare names byte for byte [linux-limits].
		CaseInsensitive: false,
		Normalization:   "",
		Source:          "Linux limits.h (NAME_MAX 255 bytes, PATH_MAX 4096 bytes)",
	},
	{
		Name:  "macos",
		Title: "macOS",
		// At the POSIX layer only "/" and NUL are impossible; ":" is allowed
		// (Finder shows it as "/") [darwin-limits].
		ForbiddenChars: "",
		// NAME_MAX 255 [darwin-limits]. APFS counts UTF-8 and HFS+ UTF-16
		// [apfs-faq]; bytes are the stricter count of the two.
		MaxName: 255, NameUnit: Bytes,
		// PATH_MAX 1024 bytes including the NUL [darwin-limits].
		MaxPath: 1023, PathUnit: Bytes,
		// APFS files are limited by the volume (8 EiB); no practical limit.
		MaxFileSize: 0,
		// The default APFS variant on a Mac is case-insensitive and
		// normalization-insensitive but preserving [apfs-faq].
		CaseInsensitive: true,
		// APFS stores names as given [apfs-faq] (HFS+ stored NFD; a Mac
		// volume still on HFS+ gives names back in NFD).
		Normalization: "",
		Source:        "Darwin syslimits.h (NAME_MAX 255, PATH_MAX 1024); Apple APFS Guide FAQ",
	},
	{
		Name:  "windows",
		Title: "Windows",
		// Reserved characters < > : " / \ | ? * and the integers 1-31
		// [win-naming].
		ForbiddenChars:   `<>:"\|?*`,
		ForbiddenControl: true,
		// "Do not end a file or directory name with a space or a period"
		// [win-naming].
		NoTrailing: ". ",
		// "CON, PRN, AUX, NUL, COM1 ... COM9, LPT1 ... LPT9. Also avoid
		// these names followed immediately by an extension" [win-naming].
		// COM0/LPT0 were added to that page later (golang/go#67245) and the
		// superscript digits ¹ ² ³ are read as digits too (nodejs/node
		// commit e91b54d): all reserved here, conservatively.
		Reserved: []string{"CON", "PRN", "AUX", "NUL",
			"COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³",
			"LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³"},
		ReservedIgnoreExt: true,
		ReservedFold:      true,
		// NTFS components are at most 255 characters, counted in UTF-16 by
		// the Unicode API [win-naming] ("lpMaximumComponentLength ... 255").
		MaxName: 255, NameUnit: UTF16,
		// Extended-length paths reach 32,767 UTF-16 units [win-naming]; Go
		// uses them automatically. Explorer and many programs still stop at
		// MAX_PATH (260) for the absolute path: see docs/providers.md.
		MaxPath: 32767, PathUnit: UTF16,
		// NTFS limits depend on cluster size and Windows version; not
		// looked up: no limit here.
		MaxFileSize: 0,
		// "Do not assume case sensitivity ... treat OSCAR, Oscar, and oscar
		// as the same" [win-naming].
		CaseInsensitive: true,
		Normalization:   "",
		Source:          "Microsoft Learn, Naming Files, Paths, and Namespaces",
	},
	{
		Name:  "gdrive",
		Title: "Google Drive",
		// Drive accepts any valid UTF-8 in a name, even "/" [rclone] (drive
		// backend: only invalid UTF-8 is encoded).
		ForbiddenChars: "",
		// Not documented: conservative 255 bytes.
		MaxName: 255, NameUnit: Bytes,
		// Drive addresses files by ID; no path length is documented: none.
		MaxPath: 0, PathUnit: Bytes,
		// "For Google Drive if the size of a single file exceeds 5 TB"
		// [synology]; taken as decimal TB, the smaller reading.
		MaxFileSize: 5 * tB,
		// Case-sensitive, and allows duplicate names [rclone overview].
		CaseInsensitive: false,
		Normalization:   "",
		Source:          "Synology Cloud Sync table (5 TB); rclone overview (case-sensitive)",
	},
	{
		Name:  "dropbox",
		Title: "Dropbox",
		// The help page says not to use / \ < > : " | ? * . in names
		// [dropbox-names]; of these only "\" is refused by Dropbox itself
		// (the rest are Windows restrictions: the Dropbox Windows app
		// renames such files, use the "windows" rule set to find them).
		// Control characters and DEL: not documented, forbidden
		// conservatively.
		ForbiddenChars:   "\\\x7f",
		ForbiddenControl: true,
		// "Don't add a space at the end of a file or folder name"
		// [dropbox-names].
		NoTrailing: " ",
		// "The file/folder name is, or contains .dropbox" is not synced
		// [synology] (Dropbox keeps its own .dropbox files).
		ReservedFold:     true,
		ReservedContains: []string{".dropbox"},
		// 255 characters per name: rclone hard codes "the 255 rune limit"
		// after Dropbox refused longer names (rclone commit 9c7594d, "path
		// too long").
		MaxName: 255, NameUnit: Chars,
		// "File and folder paths must have fewer than 260 characters ...
		// Double-byte characters ... count as one character"
		// [dropbox-names].
		MaxPath: 259, PathUnit: Chars,
		// 350 GB through the API (upload sessions) [dropbox-api].
		MaxFileSize: 350 * gB,
		// Case-insensitive [rclone overview].
		CaseInsensitive: true,
		Normalization:   "",
		Source:          "Dropbox Help Center (names, 260-char paths); Dropbox API (350 GB); rclone",
	},
	{
		Name:  "mega",
		Title: "MEGA",
		// Only "/" and NUL are encoded by rclone's mega backend [rclone]
		// (Base encoding plus invalid UTF-8): nothing else is refused.
		ForbiddenChars: "",
		// Not documented: conservative 255 bytes.
		MaxName: 255, NameUnit: Bytes,
		// Not documented; MEGA stores a tree of nodes: no path limit.
		MaxPath: 0, PathUnit: Bytes,
		// MEGA documents no per-file limit (the account's storage quota
		// is the limit, which Dovetail cannot know offline); inventing one
		// would refuse files MEGA accepts, so none.
		MaxFileSize: 0,
		// Case-sensitive, allows duplicate names [rclone overview].
		CaseInsensitive: false,
		Normalization:   "",
		Source:          "rclone overview and mega backend (no documented MEGA limits)",
	},
	{
		Name:  "s3",
		Title: "Amazon S3",
		// "The object key name consists of a sequence of Unicode characters
		// encoded in UTF-8" [s3-keys]; nothing is refused, but characters
		// 0x00-0x1F "might require special handling" and XML 1.0 listings
		// cannot carry most of them [s3-keys]: forbidden conservatively.
		// (Synology refuses " < > | { ^ } % ` ] [ ~ # for S3 [synology];
		// that is Synology's choice, S3 accepts them.)
		ForbiddenChars:   "",
		ForbiddenControl: true,
		// No limit on one element: the key counts as a whole [s3-keys].
		MaxName: 0, NameUnit: Bytes,
		// "maximum length of 1,024 bytes ... The prefix, the delimiter (/),
		// and the name of the object are included" [s3-keys].
		MaxPath: 1024, PathUnit: Bytes,
		// 5 TiB [s3-limits] (translated pages; the English page now says
		// 48.8 TiB for AWS itself). 5 TiB also holds for S3-compatible
		// services [synology]: the conservative choice.
		MaxFileSize: 5 * tiB,
		// "Object key names are case sensitive" [s3-keys].
		CaseInsensitive: false,
		Normalization:   "",
		Source:          "AWS docs: Naming Amazon S3 objects (1,024 bytes); multipart limits (5 TiB)",
	},
	{
		Name:  "b2",
		Title: "Backblaze B2",
		// "No character codes below 32 are allowed. Backslashes are not
		// allowed. DEL characters (127) are not allowed." [b2-files]
		ForbiddenChars:   "\\\x7f",
		ForbiddenControl: true,
		// The B2 web interface uses ".bzEmpty" files to keep empty folders;
		// Synology refuses the name [synology].
		Reserved: []string{".bzEmpty"},
		// "a maximum of 250 bytes of UTF-8 in each segment" [b2-files]
		// (Synology says 250 characters [synology]; bytes is stricter).
		MaxName: 250, NameUnit: Bytes,
		// "any UTF-8 string up to 1024 bytes long" [b2-files].
		MaxPath: 1024, PathUnit: Bytes,
		// "Large files can range from 5 MB to 10 TB" [b2-large].
		MaxFileSize: 10 * tB,
		// Case-sensitive [rclone overview].
		CaseInsensitive: false,
		Normalization:   "",
		Source:          "Backblaze docs: Files (1024/250 bytes), Large Files (10 TB)",
	},
	{
		Name:  "azure",
		Title: "Azure Blob Storage",
		// Control characters (0x00-0x1F) are not allowed [azure-naming];
		// "Don't use \ in a blob name" and "Avoid blob names that end with
		// a dot (.)" (Azure Storage naming rules, archived MSDN blog); DEL
		// is encoded by rclone's azureblob backend [rclone].
		ForbiddenChars:   "\\\x7f",
		ForbiddenControl: true,
		NoTrailing:       ".",
		// Synology keeps empty folders as ".synoemptyblob" and refuses
		// that name [synology].
		Reserved: []string{".synoemptyblob"},
		// "The file name is longer than 255 characters" [synology]; .NET
		// characters are UTF-16 units.
		MaxName: 255, NameUnit: UTF16,
		// "A blob name ... cannot be more than 1,024 characters long"
		// [azure-naming]. (Also at most 254 path segments, not checked.)
		MaxPath: 1024, PathUnit: UTF16,
		// Block blob: 50,000 x 4,000 MiB, about 190.7 TiB [azure-scale].
		MaxFileSize: 50000 * 4000 * miB,
		// "Blob names are case-sensitive" [azure-naming].
		CaseInsensitive: false,
		Normalization:   "",
		Source:          "Microsoft Learn: Naming and Referencing Containers, Blobs, and Metadata; Blob scale targets",
	},
	{
		Name:  "onedrive",
		Title: "OneDrive",
		// `" * : < > ? / \ |` are not allowed, and leading and trailing
		// spaces are not allowed [ms-onedrive]; "The folder or file name
		// ends with ." is refused for OneDrive for Business [synology];
		// control characters are encoded by rclone's onedrive backend
		// [rclone].
		ForbiddenChars:   `"*:<>?\|`,
		ForbiddenControl: true,
		NoLeading:        " ",
		NoTrailing:       ". ",
		// ".lock, CON, PRN, AUX, NUL, COM0 - COM9, LPT0 - LPT9, _vti_,
		// desktop.ini, any filename starting with ~$"; "_vti_ cannot appear
		// anywhere in a file name" [ms-onedrive]. The device names are
		// refused with an extension too (they are Windows device names).
		Reserved: []string{".lock", "desktop.ini", "CON", "PRN", "AUX", "NUL",
			"COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
			"LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9"},
		ReservedIgnoreExt: true,
		ReservedFold:      true,
		ReservedPrefixes:  []string{"~$"},
		ReservedContains:  []string{"_vti_"},
		// No separate name limit in [ms-onedrive]; 255 UTF-16 units is the
		// Windows component limit the OneDrive client syncs to
		// [win-naming]. (Synology lists 128 for OneDrive for Business
		// [synology]: that is SharePoint 2010/2013's MaxLeafNameLength.)
		MaxName: 255, NameUnit: UTF16,
		// "The entire decoded file path, including the file name, can't
		// contain more than 400 characters" [ms-onedrive]. The library part
		// of the path ("Documents/...") counts too.
		MaxPath: 400, PathUnit: UTF16,
		// "Maximum file upload size updated to 250 GB" [ms-onedrive];
		// "exceeds 250 GB" [synology].
		MaxFileSize: 250 * gB,
		// Case-insensitive [rclone overview].
		CaseInsensitive: true,
		Normalization:   "",
		Source:          "Microsoft support: Restrictions and limitations in OneDrive and SharePoint; Synology table",
	},
	{
		Name:  "webdav",
		Title: "WebDAV",
		// WebDAV itself (RFC 4918) puts names in percent-encoded URLs and
		// refuses nothing; servers do. Nextcloud, the most common one,
		// forbids characters 0-31 [nextcloud]: forbidden here.
		ForbiddenChars:   "",
		ForbiddenControl: true,
		// Not documented (the server's file system decides): conservative
		// 255 bytes per name, 4095 bytes per path as on Linux
		// [linux-limits].
		MaxName: 255, NameUnit: Bytes,
		MaxPath: 4095, PathUnit: Bytes,
		MaxFileSize: 0, // server-dependent, not documented
		// URL paths are case-sensitive (RFC 3986); a server on a
		// case-insensitive disk is not (check with --for windows/macos).
		CaseInsensitive: false,
		Normalization:   "",
		Source:          "RFC 4918/3986 (no rules of its own); Nextcloud (no control characters); conservative limits",
	},
	{
		Name:  "sftp",
		Title: "SFTP",
		// SFTP passes names to the server's POSIX file system: only "/"
		// and NUL are impossible [linux-limits].
		ForbiddenChars: "",
		// Not documented by SFTP; a Linux server: NAME_MAX 255 bytes,
		// PATH_MAX 4096 [linux-limits].
		MaxName: 255, NameUnit: Bytes,
		MaxPath: 4095, PathUnit: Bytes,
		MaxFileSize:     0, // the server's file system decides
		CaseInsensitive: false,
		Normalization:   "",
		Source:          "server file system; Linux limits.h assumed",
	},
}

var byName = func() map[string]*RuleSet {
	m := make(map[string]*RuleSet, len(ruleSets))
	for _, r := range ruleSets {
		m[r.Name] = r
	}
	return m
}()

// Lookup returns the rule set called name. An unknown name is an error
// that lists the valid names.
func Lookup(name string) (*RuleSet, error) {
	if r, ok := byName[strings.ToLower(strings.TrimSpace(name))]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("unknown provider %q: valid providers are %s", name, strings.Join(Names(), ", "))
}

// Names returns the names of all rule sets, sorted.
func Names() []string {
	names := make([]string, 0, len(ruleSets))
	for _, r := range ruleSets {
		names = append(names, r.Name)
	}
	sort.Strings(names)
	return names
}
