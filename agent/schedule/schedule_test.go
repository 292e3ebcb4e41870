package schedule

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin even where the system has no zoneinfo
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// at parses "2006-01-02 15:04 MST" wall-clock times in loc; the zone
// abbreviation (CET or CEST) picks the copy of a repeated hour.
func at(t *testing.T, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04 MST", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func fmtT(v time.Time) string {
	if v.IsZero() {
		return "never"
	}
	return v.Format("2006-01-02 15:04 MST Mon") + " (" + v.UTC().Format("15:04Z") + ")"
}

func TestCronNext(t *testing.T) {
	loc := berlin(t)
	cases := []struct {
		name, expr, after string
		want              []string // successive runs
	}{
		{"every quarter hour", "*/15 * * * *", "2026-06-10 10:07 CEST", []string{"2026-06-10 10:15 CEST", "2026-06-10 10:30 CEST"}},
		{"weekday nights", "0 22 * * mon-fri", "2026-06-12 23:00 CEST", []string{"2026-06-15 22:00 CEST", "2026-06-16 22:00 CEST"}},
		{"list and range", "0 8-10,17 * * *", "2026-06-10 09:30 CEST", []string{"2026-06-10 10:00 CEST", "2026-06-10 17:00 CEST", "2026-06-11 08:00 CEST"}},
		{"monthly on the first", "0 3 1 * *", "2026-01-31 12:00 CET", []string{"2026-02-01 03:00 CET", "2026-03-01 03:00 CET"}},
		{"leap day", "0 0 29 2 *", "2026-03-01 00:00 CET", []string{"2028-02-29 00:00 CET"}},
		{"month names", "0 0 1 jan,jul *", "2026-02-01 00:00 CET", []string{"2026-07-01 00:00 CEST", "2027-01-01 00:00 CET"}},
		{"day of month or day of week", "0 0 13 * fri", "2026-02-01 00:00 CET", []string{"2026-02-06 00:00 CET", "2026-02-13 00:00 CET", "2026-02-20 00:00 CET"}},
		{"sunday as 7", "0 0 * * 7", "2026-06-10 00:00 CEST", []string{"2026-06-14 00:00 CEST"}},
		{"friday to sunday as 5-7", "0 0 * * 5-7", "2026-06-10 00:00 CEST", []string{"2026-06-12 00:00 CEST", "2026-06-13 00:00 CEST", "2026-06-14 00:00 CEST", "2026-06-19 00:00 CEST"}},
		{"every day as 0-7", "0 0 * * 0-7", "2026-06-13 12:00 CEST", []string{"2026-06-14 00:00 CEST", "2026-06-15 00:00 CEST"}},
		{"odd days to 7 with a step", "0 0 * * 1-7/2", "2026-06-13 12:00 CEST", []string{"2026-06-14 00:00 CEST", "2026-06-15 00:00 CEST", "2026-06-17 00:00 CEST"}},
		{"@hourly", "@hourly", "2026-06-10 10:07 CEST", []string{"2026-06-10 11:00 CEST"}},
		{"@daily", "@daily", "2026-06-10 10:07 CEST", []string{"2026-06-11 00:00 CEST"}},
		{"@weekly is sunday midnight", "@weekly", "2026-06-10 10:07 CEST", []string{"2026-06-14 00:00 CEST"}},
		{"exactly at a run time gives the next", "30 2 * * *", "2026-06-10 02:30 CEST", []string{"2026-06-11 02:30 CEST"}},
		// 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
		{"skipped time runs at the jump", "30 2 * * *", "2026-03-28 03:00 CET", []string{"2026-03-29 03:00 CEST", "2026-03-30 02:30 CEST"}},
		{"hourly over the jump forward", "0 * * * *", "2026-03-29 01:30 CET", []string{"2026-03-29 03:00 CEST", "2026-03-29 04:00 CEST"}},
		{"several skipped times run once", "*/20 2 * * *", "2026-03-29 01:30 CET", []string{"2026-03-29 03:00 CEST", "2026-03-30 02:00 CEST"}},
		// 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
		{"repeated time runs once", "30 2 * * *", "2026-10-25 00:00 CEST", []string{"2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"}},
		{"hourly runs in both copies of the hour", "0 * * * *", "2026-10-25 01:30 CEST", []string{"2026-10-25 02:00 CEST", "2026-10-25 02:00 CET", "2026-10-25 03:00 CET"}},
		{"fixed hours run once in the repeated hour", "15 1-3 * * *", "2026-10-25 01:30 CEST", []string{"2026-10-25 02:15 CEST", "2026-10-25 03:15 CET"}},
		{"time zone prefix", "CRON_TZ=UTC 0 12 * * *", "2026-06-10 10:00 CEST", []string{"2026-06-10 14:00 CEST"}},
		{"never: 30 February", "0 0 30 2 *", "2026-01-01 00:00 CET", []string{"never"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCron(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			cur := at(t, loc, tc.after)
			for i, w := range tc.want {
				got := c.Next(cur)
				if w == "never" {
					if !got.IsZero() {
						t.Fatalf("Next(%s) = %s, want never", fmtT(cur), fmtT(got))
					}
					return
				}
				want := at(t, loc, w)
				if !got.Equal(want) || got.Location() != loc {
					t.Fatalf("run %d: Next(%s) = %s, want %s", i+1, fmtT(cur), fmtT(got), fmtT(want))
				}
				cur = got
			}
		})
	}
}

func TestParseCronErrors(t *testing.T) {
	cases := map[string]string{
		"":                               "empty",
		"* * * *":                        "4 fields, want five fields",
		"* * * * * *":                    "6 fields",
		"61 * * * *":                     `minute "61": end of range (61) above maximum (59)`,
		"0 24 * * *":                     `hour "24": end of range (24) above maximum (23)`,
		"0 0 0 * *":                      `day-of-month "0": beginning of range (0) below minimum (1)`,
		"0 0 * * funday":                 `day-of-week "funday"`,
		"0 0 * foo *":                    `month "foo"`,
		"0 0 * * 5-2":                    `day-of-week "5-2"`,
		"@every 5m":                      "@every is not supported",
		"@sometimes":                     "unknown descriptor @sometimes",
		"CRON_TZ=Mars/Olympus 0 0 * * *": `unknown time zone "Mars/Olympus"`,
		"CRON_TZ=UTC":                    "no schedule",
	}
	for expr, want := range cases {
		_, err := ParseCron(expr)
		if err == nil {
			t.Errorf("ParseCron(%q) succeeded", expr)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCron(%q) = %v, want it to mention %q", expr, err, want)
		}
	}
	var zero Cron
	if !zero.Next(time.Now()).IsZero() || !zero.IsZero() {
		t.Error("the zero Cron runs")
	}
}

func TestCronText(t *testing.T) {
	var c Cron
	if err := c.UnmarshalText([]byte(" 0 22 * * mon-fri ")); err != nil {
		t.Fatal(err)
	}
	if c.String() != "0 22 * * mon-fri" {
		t.Errorf("String() = %q", c.String())
	}
	if err := c.UnmarshalText([]byte("nope")); err == nil {
		t.Error("UnmarshalText accepted nope")
	}
}

func TestParseWeekdays(t *testing.T) {
	cases := []struct {
		in   string
		want string // String() of the result, or "error"
	}{
		{"mon-fri", "mon-fri"},
		{"Monday", "mon"},
		{"sat,sun", "sat,sun"},
		{"fri-mon", "mon,fri-sun"},
		{"mon, wed ,fri", "mon,wed,fri"},
		{"weekends", "sat,sun"},
		{"weekdays", "mon-fri"},
		{"daily", "daily"},
		{"", "daily"},
		{"mon-sun", "daily"},
		{"tue-thu,sat", "tue-thu,sat"},
		{"funday", "error"},
		{"mon-", "error"},
		{"mon-fri-sat", "error"},
	}
	for _, tc := range cases {
		got, err := ParseWeekdays(tc.in)
		if tc.want == "error" {
			if err == nil {
				t.Errorf("ParseWeekdays(%q) = %s, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ParseWeekdays(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
			continue
		}
		back, err := ParseWeekdays(got.String())
		if err != nil || back != got {
			t.Errorf("%q does not round-trip: %s, %v", tc.in, back, err)
		}
	}
}

func TestParseClock(t *testing.T) {
	good := map[string]Clock{"00:00": 0, "06:00": 360, "9:30": 570, "22:15": 1335, "24:00": 1440}
	for in, want := range good {
		if got, err := ParseClock(in); err != nil || got != want {
			t.Errorf("ParseClock(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "22", "25:00", "24:01", "22:60", "22:5", "noon", "-1:00", "10:00pm"} {
		if got, err := ParseClock(in); err == nil {
			t.Errorf("ParseClock(%q) = %s, want an error", in, got)
		} else if !strings.Contains(err.Error(), "HH:MM") {
			t.Errorf("ParseClock(%q): unhelpful error %v", in, err)
		}
	}
}

func win(t *testing.T, days, from, to string) Window {
	t.Helper()
	d, err := ParseWeekdays(days)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseClock(from)
	if err != nil {
		t.Fatal(err)
	}
	u, err := ParseClock(to)
	if err != nil {
		t.Fatal(err)
	}
	w := Window{Days: d, From: f, To: u}
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWindows(t *testing.T) {
	loc := berlin(t)
	nights := Windows{win(t, "mon-fri", "22:00", "06:00")}
	weekend := Windows{win(t, "sat,sun", "00:00", "00:00")}
	cases := []struct {
		name  string
		ws    Windows
		t     string
		allow bool
		next  string
	}{
		// 2026-06-15 is a Monday.
		{"monday night", nights, "2026-06-15 23:00 CEST", true, "2026-06-15 23:00 CEST"},
		{"opening minute", nights, "2026-06-15 22:00 CEST", true, "2026-06-15 22:00 CEST"},
		{"tuesday before six", nights, "2026-06-16 05:59 CEST", true, "2026-06-16 05:59 CEST"},
		{"closes at six", nights, "2026-06-16 06:00 CEST", false, "2026-06-16 22:00 CEST"},
		{"friday's window runs into saturday", nights, "2026-06-20 01:00 CEST", true, "2026-06-20 01:00 CEST"},
		{"saturday evening is closed", nights, "2026-06-20 23:00 CEST", false, "2026-06-22 22:00 CEST"},
		{"sunday night is closed", nights, "2026-06-22 01:00 CEST", false, "2026-06-22 22:00 CEST"},
		{"whole weekend days", weekend, "2026-06-20 00:00 CEST", true, "2026-06-20 00:00 CEST"},
		{"sunday last minute", weekend, "2026-06-21 23:59 CEST", true, "2026-06-21 23:59 CEST"},
		{"monday after the weekend", weekend, "2026-06-22 00:00 CEST", false, "2026-06-27 00:00 CEST"},
		{"no windows allow everything", nil, "2026-06-22 12:00 CEST", true, "2026-06-22 12:00 CEST"},
		{"either of two windows", Windows{win(t, "mon", "08:00", "09:00"), win(t, "", "12:00", "13:00")}, "2026-06-15 10:00 CEST", false, "2026-06-15 12:00 CEST"},
		// 2026-03-29: 02:00 CET jumps to 03:00 CEST.
		{"window inside the skipped hour stays shut", Windows{win(t, "", "02:15", "02:45")}, "2026-03-29 01:00 CET", false, "2026-03-30 02:15 CEST"},
		{"window starting in the skipped hour opens at the jump", Windows{win(t, "", "02:30", "04:00")}, "2026-03-29 01:30 CET", false, "2026-03-29 03:00 CEST"},
		{"overnight window over the jump", nights, "2026-03-27 23:30 CET", true, "2026-03-27 23:30 CET"},
		// 2026-10-25: 03:00 CEST goes back to 02:00 CET.
		{"clocks going back reopen a window", Windows{win(t, "", "01:30", "02:30")}, "2026-10-25 02:40 CEST", false, "2026-10-25 02:00 CET"},
		{"repeated hour inside a window", Windows{win(t, "sat", "22:00", "06:00")}, "2026-10-25 02:30 CET", true, "2026-10-25 02:30 CET"},
		{"window closed after the repeated hour", Windows{win(t, "sat", "22:00", "03:00")}, "2026-10-25 03:10 CET", false, "2026-10-31 22:00 CET"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := at(t, loc, tc.t)
			if got := tc.ws.Allows(now); got != tc.allow {
				t.Errorf("Allows(%s) = %v, want %v", fmtT(now), got, tc.allow)
			}
			want := at(t, loc, tc.next)
			got := tc.ws.NextOpen(now)
			if !got.Equal(want) {
				t.Errorf("NextOpen(%s) = %s, want %s", fmtT(now), fmtT(got), fmtT(want))
			}
			if !tc.ws.Allows(got) {
				t.Errorf("NextOpen(%s) = %s, which is not allowed", fmtT(now), fmtT(got))
			}
			if before := got.Add(-time.Minute); before.After(now) && tc.ws.Allows(before) {
				t.Errorf("NextOpen(%s) = %s, but a minute earlier was already allowed", fmtT(now), fmtT(got))
			}
		})
	}
}

func TestWindowValidate(t *testing.T) {
	if err := (Window{From: 1440, To: 60}).Validate(); err == nil {
		t.Error("a window opening at 24:00 is valid")
	}
	if err := (Window{From: 60, To: 1440}).Validate(); err != nil {
		t.Errorf("01:00-24:00: %v", err)
	}
	if got := win(t, "mon-fri", "22:00", "06:00").String(); got != "mon-fri 22:00-06:00" {
		t.Errorf("String() = %q", got)
	}
}
