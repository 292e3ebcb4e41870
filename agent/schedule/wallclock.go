package schedule

import (
	"slices"
	"time"
)

// wallInstants returns, in order, the instants at which the wall clock in
// loc reads the date y-mo-d and the time h:mi. That is one instant on
// ordinary days, two when the clocks go back across that time, and none
// when they jump over it; for a skipped time wallInstants returns the
// instant of the jump instead, the first instant whose wall-clock time is
// later than the one asked for.
func wallInstants(y int, mo time.Month, d, h, mi int, loc *time.Location) []time.Time {
	naive := time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
	// The offsets that can be in effect near that wall-clock time: zone
	// changes are never closer together than a few days.
	var offsets []int
	for _, probe := range []time.Duration{-36 * time.Hour, 0, 36 * time.Hour} {
		_, off := naive.Add(probe).In(loc).Zone()
		if !slices.Contains(offsets, off) {
			offsets = append(offsets, off)
		}
	}
	var out []time.Time
	for _, off := range offsets {
		t := naive.Add(-time.Duration(off) * time.Second).In(loc)
		ty, tm, td := t.Date()
		if ty == y && tm == mo && td == d && t.Hour() == h && t.Minute() == mi && !slices.ContainsFunc(out, t.Equal) {
			out = append(out, t)
		}
	}
	if len(out) > 0 {
		slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
		return out
	}
	// Skipped by a jump forward. Read with the largest offset, the time
	// lies before the jump; the zone period it lies in ends at the jump.
	largest := slices.Max(offsets)
	_, end := naive.Add(-time.Duration(largest) * time.Second).In(loc).ZoneBounds()
	if end.IsZero() {
		return nil
	}
	return []time.Time{end}
}

// civilDay is a calendar date, stepped without regard to time zones.
type civilDay struct{ t time.Time }

func dayOf(t time.Time) civilDay {
	y, m, d := t.Date()
	return civilDay{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

func (c civilDay) add(days int) civilDay { return civilDay{c.t.AddDate(0, 0, days)} }

func (c civilDay) date() (int, time.Month, int) { return c.t.Date() }

func (c civilDay) weekday() time.Weekday { return c.t.Weekday() }
