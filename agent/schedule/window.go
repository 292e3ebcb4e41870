package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Weekdays is a set of days of the week: bit i is time.Weekday(i). The
// empty set means every day wherever a Window uses it.
type Weekdays uint8

// EveryDay holds all seven days.
const EveryDay Weekdays = 1<<7 - 1

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseWeekdays parses a set of days: names ("mon", "monday", any case),
// ranges ("mon-fri", and "fri-mon" across the weekend), lists of either
// separated by commas, or the words "daily" and "weekdays"/"weekends".
// The empty string is every day.
func ParseWeekdays(s string) (Weekdays, error) {
	var set Weekdays
	if strings.TrimSpace(s) == "" {
		return EveryDay, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		switch part {
		case "daily", "every day", "*":
			set |= EveryDay
			continue
		case "weekdays":
			set |= 0b0111110
			continue
		case "weekends":
			set |= 0b1000001
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := parseDay(lo)
		if err != nil {
			return 0, err
		}
		b := a
		if isRange {
			if b, err = parseDay(hi); err != nil {
				return 0, err
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			set |= 1 << d
			if d == b {
				break
			}
		}
	}
	return set, nil
}

func parseDay(s string) (time.Weekday, error) {
	s = strings.TrimSpace(s)
	for i, n := range dayNames {
		full := strings.ToLower(time.Weekday(i).String())
		if s == n || s == full {
			return time.Weekday(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not a day of the week (use mon, tue, wed, thu, fri, sat, sun, or a range such as mon-fri)", s)
}

// Has reports whether d holds w; the empty set holds every day.
func (d Weekdays) Has(w time.Weekday) bool { return d == 0 || d&(1<<w) != 0 }

// String lists the days, with runs written as ranges: "mon-fri,sun".
func (d Weekdays) String() string {
	if d == 0 || d == EveryDay {
		return "daily"
	}
	var parts []string
	// Monday first, as people write weeks.
	order := [7]time.Weekday{1, 2, 3, 4, 5, 6, 0}
	for i := 0; i < 7; {
		if d&(1<<order[i]) == 0 {
			i++
			continue
		}
		j := i
		for j+1 < 7 && d&(1<<order[j+1]) != 0 {
			j++
		}
		switch j - i {
		case 0:
			parts = append(parts, dayNames[order[i]])
		case 1:
			parts = append(parts, dayNames[order[i]], dayNames[order[j]])
		default:
			parts = append(parts, dayNames[order[i]]+"-"+dayNames[order[j]])
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// MarshalText returns d in the form ParseWeekdays reads.
func (d Weekdays) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses days (see ParseWeekdays).
func (d *Weekdays) UnmarshalText(b []byte) error {
	v, err := ParseWeekdays(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Clock is a wall-clock time of day in minutes after midnight, from 0
// (00:00) to 1440 (24:00, the end of the day).
type Clock int

// ParseClock parses "HH:MM" (24-hour; "9:30" and "24:00" allowed).
func ParseClock(s string) (Clock, error) {
	bad := fmt.Errorf("%q is not a time of day (use 24-hour HH:MM, such as 06:00 or 22:30)", s)
	hs, ms, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 {
		return 0, bad
	}
	h, err1 := strconv.Atoi(hs)
	m, err2 := strconv.Atoi(ms)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, bad
	}
	return Clock(h*60 + m), nil
}

// String returns c as "HH:MM".
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// MarshalText returns c as "HH:MM".
func (c Clock) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText parses "HH:MM" (see ParseClock).
func (c *Clock) UnmarshalText(b []byte) error {
	v, err := ParseClock(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Window is a period of the week during which transfers may start: it
// opens at From on each of Days and closes at To the same day, or the next
// day when To is not after From (22:00 to 06:00 runs overnight). From
// equal to To is a whole day from From; the zero Window is every day,
// all day. Times are wall-clock times.
type Window struct {
	Days Weekdays `yaml:"days" json:"days"`
	From Clock    `yaml:"from" json:"from"`
	To   Clock    `yaml:"to" json:"to"`
}

// Validate reports a window that cannot open: From at 24:00, or a time
// out of range.
func (w Window) Validate() error {
	if w.From < 0 || w.From >= 1440 {
		return fmt.Errorf("from %s: a window must open before 24:00", w.From)
	}
	if w.To < 0 || w.To > 1440 {
		return fmt.Errorf("to %s is not a time of day", w.To)
	}
	if w.Days&^EveryDay != 0 {
		return fmt.Errorf("days %#x is not a set of weekdays", uint8(w.Days))
	}
	return nil
}

// length returns how long the window stays open, in seconds of wall clock.
func (w Window) length() int {
	n := (int(w.To) - int(w.From)) % 1440
	if n <= 0 {
		n += 1440
	}
	return n * 60
}

// String describes w: "mon-fri 22:00-06:00".
func (w Window) String() string {
	return fmt.Sprintf("%s %s-%s", w.Days, w.From, w.To)
}

// allows reports whether wall-clock time t lies in w.
func (w Window) allows(t time.Time) bool {
	sec := t.Hour()*3600 + t.Minute()*60 + t.Second()
	open := int(w.From) * 60
	end := open + w.length()
	day := dayOf(t)
	if w.Days.Has(day.weekday()) && sec >= open && sec < end {
		return true
	}
	// Opened yesterday and still open after midnight.
	return w.Days.Has(day.add(-1).weekday()) && sec+86400 >= open && sec+86400 < end
}

// Windows is a set of sync windows; a time is allowed when any window
// allows it. No windows at all allows every time.
type Windows []Window

// Allows reports whether a transfer may start at t, read as a wall-clock
// time in t's location.
func (ws Windows) Allows(t time.Time) bool {
	if len(ws) == 0 {
		return true
	}
	for _, w := range ws {
		if w.allows(t) {
			return true
		}
	}
	return false
}

// NextOpen returns t if ws allows t, and otherwise the first instant
// after t that ws allows, in t's location. It returns the zero time only
// if no window opens within two weeks, which a valid window always does.
func (ws Windows) NextOpen(t time.Time) time.Time {
	if ws.Allows(t) {
		return t
	}
	limit := t.Add(15 * 24 * time.Hour)
	var best time.Time
	consider := func(c time.Time) {
		if c.After(t) && c.Before(limit) && (best.IsZero() || c.Before(best)) && ws.Allows(c) {
			best = c
		}
	}
	// A window opens either at its From time or when the clocks change
	// into it (a jump back into an evening window, say).
	start := dayOf(t)
	for i := range 15 {
		day := start.add(i)
		y, mo, d := day.date()
		for _, w := range ws {
			if !w.Days.Has(day.weekday()) || w.Validate() != nil {
				continue
			}
			for _, c := range wallInstants(y, mo, d, int(w.From)/60, int(w.From)%60, t.Location()) {
				consider(c)
			}
		}
	}
	for _, end := t.ZoneBounds(); !end.IsZero() && end.Before(limit); _, end = end.ZoneBounds() {
		consider(end.In(t.Location()))
	}
	return best
}
