package siteserver

import (
	"log/slog"
	"sync"
	"time"
)

// Defaults of the request log's rate limit: at most failedLogBurst lines
// at info level for failed requests a client caused (4xx answers and
// responses cut short) per failedLogEvery; the rest go to debug level and
// are counted in one summary line at info level per interval.
const (
	failedLogBurst = 10
	failedLogEvery = time.Minute
)

// logLimiter rate-limits info-level log lines: the first burst of each
// interval pass, the rest are counted and reported in one summary line at
// the end of the interval. Safe for concurrent use.
type logLimiter struct {
	log   *slog.Logger
	burst int
	every time.Duration

	mu         sync.Mutex
	start      time.Time // of the current interval
	passed     int       // lines passed in the current interval
	suppressed int       // lines held back since the last summary
	timer      *time.Timer
}

func newLogLimiter(log *slog.Logger, burst int, every time.Duration) *logLimiter {
	return &logLimiter{log: log, burst: burst, every: every}
}

// allow reports whether one more line may be logged at info level. When it
// may not, the line is counted for the summary.
func (l *logLimiter) allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.start) >= l.every {
		l.start, l.passed = now, 0
	}
	if l.passed < l.burst {
		l.passed++
		return true
	}
	l.suppressed++
	if l.timer == nil {
		l.timer = time.AfterFunc(l.start.Add(l.every).Sub(now), l.summarize)
	}
	return false
}

// summarize logs how many lines were held back.
func (l *logLimiter) summarize() {
	l.mu.Lock()
	n := l.suppressed
	l.suppressed, l.timer = 0, nil
	l.mu.Unlock()
	if n > 0 {
		l.log.Info("more failed requests than the log shows: the rest are at debug level",
			"not_shown", n, "shown_at_most", l.burst, "per", l.every)
	}
}
