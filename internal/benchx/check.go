package benchx

import (
	"fmt"
	"strconv"
)

// DefaultTolerance is how much worse than the recorded ratio a fresh one
// may be before Check fails it: 15%.
const DefaultTolerance = 0.15

// Finding is one reason a check failed.
type Finding struct {
	Metric string
	Why    string
}

func (f Finding) String() string { return f.Metric + ": " + f.Why }

// Check compares fresh with recorded. It fails a row when
//   - its result is MISS or BROKEN (a target missed, or the sub-bench broke);
//   - it has a ratio target and its ratio is more than tolerance worse than
//     the recorded one's (direction from the target: lower is better for
//     "<=", higher for ">=");
//   - a recorded row with a ratio target has no numeric ratio in fresh
//     (missing, "n/a", "broken").
//
// Rows only in fresh are checked against their own targets only.
func Check(recorded, fresh *Results, tolerance float64) []Finding {
	var out []Finding
	for _, row := range fresh.Rows {
		switch {
		case row.Result == "BROKEN":
			out = append(out, Finding{row.Metric, "the sub-bench broke (see its log under out/bench/logs)"})
		case row.Result == "MISS" || !meetsOwnTarget(row):
			out = append(out, Finding{row.Metric, fmt.Sprintf("target missed: ratio %s, ours %s, target %s", row.Ratio, row.Ours, row.Target)})
		}
	}
	for _, old := range recorded.Rows {
		if f, bad := compareRow(old, fresh, tolerance); bad {
			out = append(out, f)
		}
	}
	return out
}

// meetsOwnTarget checks a numeric ratio against a ratio target, whatever
// the result column says.
func meetsOwnTarget(row Row) bool {
	t, ok := ParseRatioTarget(row.Target)
	if !ok {
		return true
	}
	v, err := strconv.ParseFloat(row.Ratio, 64)
	return err != nil || t.Met(v)
}

func compareRow(old Row, fresh *Results, tolerance float64) (Finding, bool) {
	t, ok := ParseRatioTarget(old.Target)
	if !ok {
		return Finding{}, false
	}
	was, err := strconv.ParseFloat(old.Ratio, 64)
	if err != nil {
		return Finding{}, false // nothing to compare with
	}
	row, found := fresh.Row(old.Metric)
	if !found {
		return Finding{old.Metric, "missing from the fresh run (recorded ratio " + old.Ratio + ")"}, true
	}
	now, err := strconv.ParseFloat(row.Ratio, 64)
	if err != nil {
		return Finding{old.Metric, fmt.Sprintf("no ratio in the fresh run (%q, result %s; recorded %s)", row.Ratio, row.Result, old.Ratio)}, true
	}
	if w := t.Worse(was, now); w > tolerance {
		return Finding{old.Metric, fmt.Sprintf("ratio %s is %.0f%% worse than the recorded %s (tolerance %.0f%%, target %s)",
			row.Ratio, 100*w, old.Ratio, 100*tolerance, old.Target)}, true
	}
	return Finding{}, false
}

// OtherMachine says why recorded and fresh may not be comparable: the
// recorded file names no machine (written before make bench named it), or
// names another one than fresh. It returns "" when both name the same one.
func OtherMachine(recorded, fresh *Results) string {
	was, now := recorded.Meta["machine"], fresh.Meta["machine"]
	switch {
	case was == "":
		return "the recorded results do not name their machine"
	case now != "" && now != was:
		return "the recorded results come from another machine"
	}
	return ""
}
