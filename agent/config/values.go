package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dovetail-sync/dovetail/agent/schedule"
	"gopkg.in/yaml.v3"
)

// Size is a number of bytes, written in a configuration file as a plain
// number or with a binary unit: 500K, 100M, 1.5G, 2T (also 2GB, 2GiB).
// "off", "none" and "unlimited" are 0, which means "no limit" wherever a
// Size is a limit.
type Size int64

// ParseSize parses a size as described on Size.
func ParseSize(s string) (Size, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	switch strings.ToLower(t) {
	case "off", "none", "unlimited":
		return 0, nil
	}
	t = strings.TrimSuffix(t, "/S") // a rate: 10M/s
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	mult := int64(1)
	if t != "" {
		if i := strings.IndexByte("KMGT", t[len(t)-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			t = t[:len(t)-1]
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || f < 0 || f*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("%q is not a size (examples: 500K, 100M, 1.5G, 2T)", s)
	}
	return Size(f * float64(mult)), nil
}

// String writes s in the largest unit that divides it: "100M", "1536K".
func (s Size) String() string {
	n := int64(s)
	for i, u := range []string{"T", "G", "M", "K"} {
		m := int64(1) << (10 * (4 - i))
		if n != 0 && n%m == 0 {
			return strconv.FormatInt(n/m, 10) + u
		}
	}
	return strconv.FormatInt(n, 10)
}

// MarshalText writes s as String does.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a size (see ParseSize).
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Duration is a time.Duration written as Go writes durations: 30s, 5m,
// 1h30m.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String writes d as time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%q is not a duration (examples: 30s, 5m, 1h30m)", string(b))
	}
	*d = Duration(v)
	return nil
}

// Percent is a whole percentage, written "50" or "50%".
type Percent int

// UnmarshalText parses "50" or "50%".
func (p *Percent) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(string(b)), "%"))
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a percentage (a whole number from 0 to 100)", string(b))
	}
	*p = Percent(v)
	return nil
}

// Schedule says when a task runs: continuously (the zero Schedule, written
// "continuous"), or at the times of a cron expression.
type Schedule struct{ cron schedule.Cron }

// Continuous reports whether the task runs continuously: it syncs changes
// as they are seen, polls the remote and rescans periodically.
func (s Schedule) Continuous() bool { return s.cron.IsZero() }

// Cron returns the cron schedule of a scheduled task; it is the zero Cron
// for a continuous one.
func (s Schedule) Cron() schedule.Cron { return s.cron }

// String returns "continuous" or the cron expression.
func (s Schedule) String() string {
	if s.Continuous() {
		return "continuous"
	}
	return s.cron.String()
}

// MarshalText writes s as String does.
func (s Schedule) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "continuous" or a cron expression.
func (s *Schedule) UnmarshalText(b []byte) error {
	t := strings.TrimSpace(string(b))
	if t == "" || strings.EqualFold(t, "continuous") {
		*s = Schedule{}
		return nil
	}
	c, err := schedule.ParseCron(t)
	if err != nil {
		return fmt.Errorf(`%w (or "continuous")`, err)
	}
	*s = Schedule{cron: c}
	return nil
}

// Bandwidth is a task's transfer rate limit in bytes per second, shared by
// all its transfers. It is written either as one rate ("10M", "off") or as
// a timetable: a list of slots, each a rate with optional days, from and
// to (as in a sync window); the first slot whose window holds the current
// time applies, and when none does, transfers are not limited. A slot with
// no days, from and to holds every time, so it serves as the default at
// the end of the list.
type Bandwidth struct {
	// Rate applies when there is no timetable; 0 is unlimited.
	Rate  Size
	Slots []RateSlot
}

// RateSlot is one line of a bandwidth timetable.
type RateSlot struct {
	Days schedule.Weekdays `yaml:"days"`
	From schedule.Clock    `yaml:"from"`
	To   schedule.Clock    `yaml:"to"`
	Rate Size              `yaml:"rate"`
}

// Window returns the period the slot applies to.
func (r RateSlot) Window() schedule.Window {
	return schedule.Window{Days: r.Days, From: r.From, To: r.To}
}

// At returns the rate limit at t in bytes per second; 0 is unlimited.
func (b Bandwidth) At(t time.Time) int64 {
	if len(b.Slots) == 0 {
		return int64(b.Rate)
	}
	for _, s := range b.Slots {
		if s.Window().Validate() == nil && (schedule.Windows{s.Window()}).Allows(t) {
			return int64(s.Rate)
		}
	}
	return 0
}

// IsZero reports whether b never limits anything.
func (b Bandwidth) IsZero() bool { return b.Rate == 0 && len(b.Slots) == 0 }

// String writes b in a short form for logs: "10M/s" or "timetable (3 slots)".
func (b Bandwidth) String() string {
	switch {
	case len(b.Slots) > 0:
		return fmt.Sprintf("timetable (%d slots)", len(b.Slots))
	case b.Rate == 0:
		return "unlimited"
	}
	return b.Rate.String() + "/s"
}

// decodeNode reads one rate or a timetable.
func (b *Bandwidth) decodeNode(d *decoder, n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := ParseSize(n.Value)
		if err != nil {
			d.fail(n, path, "%v; or a timetable (a list of rate slots)", err)
			return
		}
		*b = Bandwidth{Rate: v}
	case yaml.SequenceNode:
		var slots []RateSlot
		d.decodeValue(n, &slots, path)
		*b = Bandwidth{Slots: slots}
	default:
		d.fail(n, path, "want a rate such as 10M (bytes per second) or a timetable (a list of rate slots)")
	}
}

// MarshalYAML writes one rate or the timetable.
func (b Bandwidth) MarshalYAML() (any, error) {
	if len(b.Slots) > 0 {
		return b.Slots, nil
	}
	if b.Rate == 0 {
		return "off", nil
	}
	return b.Rate.String(), nil
}
