package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Cron is a parsed five-field cron expression. The zero Cron never runs.
type Cron struct {
	text string
	spec *cron.SpecSchedule
	// loc is the location a CRON_TZ= prefix named, or nil to use the
	// location of the time given to Next.
	loc *time.Location
}

// starBit marks a field written as "*" in robfig/cron's bit sets; with it
// on day-of-month or day-of-week, both day fields must match, without it
// either may (the crontab rule).
const starBit = 1 << 63

// cronForm describes the accepted forms, for error messages.
const cronForm = `five fields "minute hour day-of-month month day-of-week" such as "30 2 * * *" (02:30 every day), or @hourly, @daily, @weekly, @monthly or @yearly`

// cronFields name the five fields, with the parser option of each.
var cronFields = [5]struct {
	name string
	opt  cron.ParseOption
}{{"minute", cron.Minute}, {"hour", cron.Hour}, {"day-of-month", cron.Dom}, {"month", cron.Month}, {"day-of-week", cron.Dow}}

// ParseCron parses a cron expression: five fields (minute, hour,
// day-of-month, month, day-of-week) each "*", a number, a list "1,15", a
// range "1-5", a step "*/15" or "8-18/2", with month and day names ("jan",
// "mon") allowed; or one of the descriptors @hourly, @daily (@midnight),
// @weekly, @monthly and @yearly (@annually). Day of week 0 and 7 are both
// Sunday. A "CRON_TZ=Europe/Berlin " prefix fixes the time zone; without
// it, times are read in the location of the time given to Next.
func ParseCron(s string) (Cron, error) {
	text := strings.TrimSpace(s)
	if text == "" {
		return Cron{}, errors.New("empty cron expression: want " + cronForm)
	}
	bad := func(format string, args ...any) (Cron, error) {
		return Cron{}, fmt.Errorf("cron expression %q: %s", s, fmt.Sprintf(format, args...))
	}
	body := text
	if strings.HasPrefix(body, "TZ=") || strings.HasPrefix(body, "CRON_TZ=") {
		zone, rest, ok := strings.Cut(body, " ")
		if !ok {
			return bad("a time zone but no schedule: want %s after it", cronForm)
		}
		_, name, _ := strings.Cut(zone, "=")
		if _, err := time.LoadLocation(name); err != nil {
			return bad("unknown time zone %q", name)
		}
		body = strings.TrimSpace(rest)
	}
	switch {
	case strings.HasPrefix(body, "@every"):
		return bad("@every is not supported; use the poll and rescan periods of a continuous task for a fixed interval")
	case strings.HasPrefix(body, "@"):
		switch body {
		case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
		default:
			return bad("unknown descriptor %s (use @hourly, @daily, @weekly, @monthly or @yearly)", body)
		}
	default:
		fields := strings.Fields(body)
		if len(fields) != 5 {
			return bad("%d fields, want %s", len(fields), cronForm)
		}
		// crontab allows 7 for Sunday; robfig/cron knows only 0.
		fields[4] = sunday7(fields[4])
		for i, f := range cronFields {
			if _, err := cron.NewParser(f.opt).Parse(fields[i]); err != nil {
				// robfig/cron ends some messages with the field again.
				msg := strings.TrimSuffix(err.Error(), ": "+fields[i])
				return bad("%s %q: %s", f.name, fields[i], msg)
			}
		}
		text = strings.Replace(text, body, strings.Join(fields, " "), 1)
	}
	sched, err := cron.ParseStandard(text)
	if err != nil {
		return bad("%v; want %s", err, cronForm)
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return bad("want %s", cronForm)
	}
	c := Cron{text: strings.TrimSpace(s), spec: spec}
	if spec.Location != time.Local {
		c.loc = spec.Location
	}
	return c, nil
}

// sunday7 rewrites a day-of-week field so that 7 means Sunday (0), alone
// and as the end of a range ("5-7" is Friday to Sunday, "1-7/2" Monday,
// Wednesday, Friday and Sunday).
func sunday7(field string) string {
	parts := strings.Split(field, ",")
	for i, p := range parts {
		rng, stepText, hasStep := strings.Cut(p, "/")
		lo, ok := strings.CutSuffix(rng, "-7")
		switch {
		case rng == "7":
			parts[i] = "0"
		case ok && lo == "7":
			parts[i] = "0"
		case ok:
			parts[i] = lo + "-6"
			step := 1
			if hasStep {
				parts[i] += "/" + stepText
				step, _ = strconv.Atoi(stepText)
			}
			lower, err := strconv.Atoi(lo)
			if err != nil {
				lower = dayNumber(lo)
			}
			if lower > 0 && step > 0 && (7-lower)%step == 0 {
				parts[i] += ",0"
			}
		}
	}
	return strings.Join(parts, ",")
}

// dayNumber returns the number of a day name ("mon" is 1), or -1.
func dayNumber(name string) int {
	for i, n := range [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} {
		if strings.EqualFold(name, n) {
			return i
		}
	}
	return -1
}

// String returns the expression as written.
func (c Cron) String() string { return c.text }

// IsZero reports whether c is the zero Cron, which never runs.
func (c Cron) IsZero() bool { return c.spec == nil }

// Next returns the first time after after at which the schedule fires, in
// after's location, or the zero time if it never fires (a zero Cron, or a
// date such as 30 February).
func (c Cron) Next(after time.Time) time.Time {
	if c.spec == nil {
		return time.Time{}
	}
	loc := after.Location()
	if c.loc != nil {
		loc = c.loc
	}
	everyHour := c.spec.Hour&starBit != 0
	start := dayOf(after.In(loc))
	// 29 February comes at least once in nine years.
	for i := range 9 * 366 {
		day := start.add(i)
		if !c.dayMatches(day) {
			continue
		}
		y, mo, d := day.date()
		for h := range 24 {
			if c.spec.Hour&(1<<h) == 0 {
				continue
			}
			for mi := range 60 {
				if c.spec.Minute&(1<<mi) == 0 {
					continue
				}
				for k, at := range wallInstants(y, mo, d, h, mi, loc) {
					if k > 0 && !everyHour {
						break // a repeated wall-clock time runs once
					}
					if at.After(after) {
						return at.In(after.Location())
					}
				}
			}
		}
	}
	return time.Time{}
}

// dayMatches applies crontab's day rule: when both day fields are
// restricted, a day matching either runs.
func (c Cron) dayMatches(day civilDay) bool {
	_, mo, d := day.date()
	if c.spec.Month&(1<<uint(mo)) == 0 {
		return false
	}
	dom := c.spec.Dom&(1<<uint(d)) != 0
	dow := c.spec.Dow&(1<<uint(day.weekday())) != 0
	if c.spec.Dom&starBit != 0 || c.spec.Dow&starBit != 0 {
		return dom && dow
	}
	return dom || dow
}

// MarshalText returns the expression as written.
func (c Cron) MarshalText() ([]byte, error) { return []byte(c.text), nil }

// UnmarshalText parses a cron expression (see ParseCron).
func (c *Cron) UnmarshalText(b []byte) error {
	p, err := ParseCron(string(b))
	if err != nil {
		return err
	}
	*c = p
	return nil
}
