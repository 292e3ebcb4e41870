package rules

// DefaultIgnore is the list of patterns for OS and editor junk that is never
// synced unless the user opts out (--no-default-ignores), or opts one back
// in with an include rule (user rules come first, see Build).
//
// Left out on purpose:
//   - "*.tmp": many programs write short-lived *.tmp files, but it is also a
//     real extension people save data under (exports, logs, scientific
//     data), and a sync tool that silently never copies a user's file is
//     worse than one that copies a temp file once. Users who want it add
//     --exclude '*.tmp'.
//   - "*~" (editor backups): often the only backup a user has.
var DefaultIgnore = []string{
	// macOS
	".DS_Store",                // Finder folder view settings
	"._*",                      // AppleDouble resource forks on non-HFS volumes and shares
	".AppleDouble/",            // netatalk / macOS resource-fork folders on shares
	".AppleDB/",                // netatalk (AFP server) database
	".AppleDesktop/",           // netatalk desktop database
	".Spotlight-V100/",         // Spotlight index on a volume
	".Trashes/",                // per-volume trash of macOS
	".fseventsd/",              // file-system event log of macOS
	".TemporaryItems/",         // macOS temp folder on a volume
	".DocumentRevisions-V100/", // macOS document versions store
	"Icon\r",                   // Finder custom folder icon (the name ends in a carriage return)
	"Network Trash Folder/",    // netatalk / AFP trash
	"Temporary Items/",         // AFP temp folder
	// Windows
	"Thumbs.db",                  // Explorer thumbnail cache
	"ehthumbs.db",                // Windows Media Center thumbnail cache
	"desktop.ini",                // Explorer folder view settings
	"$RECYCLE.BIN/",              // per-volume recycle bin
	"System Volume Information/", // restore points and indexes at a volume root
	"~$*",                        // Microsoft Office owner/lock file of an open document
	// Linux desktops and file systems
	".Trash-*/",        // freedesktop.org trash on removable and network volumes
	"/lost+found/",     // fsck's recovered files, at the root of a file system
	".nfs[0-9a-f]*",    // NFS client's "silly rename" of a deleted file still open
	".fuse_hidden*",    // FUSE's "silly rename" of a deleted file still open
	".goutputstream-*", // GLib/GIO temp file while saving
	".~lock.*#",        // LibreOffice lock file of an open document
	// NAS
	"@eaDir/",    // Synology thumbnails and extended attributes
	"#recycle/",  // Synology recycle bin
	"#snapshot/", // Synology Btrfs snapshots (a read-only copy of everything)
	".snapshot/", // NetApp / some NAS snapshot folder (a read-only copy of everything)
	"@Recycle/",  // QNAP recycle bin
	".@__thumb/", // QNAP thumbnails
	// Browsers: partial downloads
	"*.crdownload", // Chrome, Edge, Brave
	"*.part",       // Firefox, KDE
	"*.partial",    // Edge (legacy), Firefox on some versions
	"*.download",   // Safari (a folder bundle)
	// Editors
	".*.swp", // Vim swap file
	".*.swo", // Vim second swap file
	".*.swx", // Vim swap probe file
}

// DefaultIgnoreRules gives DefaultIgnore as exclude rules, in order.
func DefaultIgnoreRules() []Rule {
	rules := make([]Rule, len(DefaultIgnore))
	for i, p := range DefaultIgnore {
		rules[i] = Rule{Include: false, Pattern: p}
	}
	return rules
}

// InternalRules are the names Dovetail itself uses, always excluded whatever
// the user says: its state folder at the sync root, and the temp files it
// downloads into before renaming them into place (at any depth).
func InternalRules() []Rule {
	return []Rule{
		{Include: false, Pattern: "/.dovetail/"},
		{Include: false, Pattern: ".dovetail.tmp.*"},
	}
}

// Build assembles the filter the engine uses, in this order:
//
//  1. InternalRules, so nothing can re-include Dovetail's own files;
//  2. the default ignores (unless noDefaults) that no user include rule
//     opts back in;
//  3. the user's rules as given (the --exclude, --include and --filter-from
//     rules in command-line order);
//  4. the default ignores that a user include rule opts back in.
//
// A user include opts a default back in when it is an exception to it in
// the sense of NewFilter: "+ desktop.ini" or "+ /music/desktop.ini" for
// "desktop.ini", "+ ._*" for "._*". Those defaults come after the user's
// rules so the include wins (and the default still applies elsewhere). All
// other defaults come first, so that "+ *.jpg" (only photos) does not sync
// "._IMG_0001.jpg" AppleDouble files, nor "+ *.docx" the "~$report.docx"
// Office lock files.
func Build(user []Rule, noDefaults bool) (*Filter, error) {
	all := InternalRules()
	if noDefaults {
		return NewFilter(append(all, user...))
	}
	userPats := make([]*pattern, len(user))
	for i, r := range user {
		p, err := compilePattern(r.Pattern)
		if err != nil {
			return nil, err
		}
		userPats[i] = p
	}
	var before, after []Rule
	for _, d := range DefaultIgnoreRules() {
		dp, err := compilePattern(d.Pattern)
		if err != nil {
			return nil, err
		}
		optedIn := false
		for i, u := range user {
			if u.Include && isException([]Rule{u, d}, []*pattern{userPats[i], dp}, 0) {
				optedIn = true
				break
			}
		}
		if optedIn {
			after = append(after, d)
		} else {
			before = append(before, d)
		}
	}
	all = append(all, before...)
	all = append(all, user...)
	all = append(all, after...)
	return NewFilter(all)
}
