// Package schedule answers the two timing questions of a scheduled task:
// when does it next run (a five-field cron expression, as in crontab and
// the TrueNAS advanced scheduler) and may a transfer start now (sync
// windows: days of the week and a time of day, possibly across midnight).
//
// Both work on wall-clock time in the location of the time they are given
// (time.Local for the agent), so "02:30 every day" stays at 02:30 across
// daylight-saving changes. On the day the clocks go forward, a wall-clock
// time that does not exist is taken as the instant the clocks jump (the
// first instant after the gap); on the day they go back, a wall-clock time
// that occurs twice is taken once, at its first occurrence, except by cron
// expressions whose hour field is "*", which run in both copies of the
// repeated hour as they do in every other hour.
package schedule
