// Package benchx reads the results table that `make bench` writes
// (scripts/bench.sh, a markdown file) and compares a fresh run with a
// recorded one, for `make bench-check`.
//
// A results file is markdown: a few "- key: value" lines (commit, date,
// load) and one table with the columns metric, ours, peer, ratio, target
// and result. Only the table matters to the comparison.
package benchx

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Row is one line of the results table.
type Row struct {
	Metric string
	Ours   string
	Peer   string
	Ratio  string
	Target string // "<= 0.70", ">= 1.0", "ours < 300", "info", ...
	Result string // PASS, MISS, BROKEN, INFO, "-", "not available"
}

// Results is a parsed results file.
type Results struct {
	Meta map[string]string // the "- key: value" lines
	Rows []Row
}

// Row returns the row for metric, or false.
func (r *Results) Row(metric string) (Row, bool) {
	for _, row := range r.Rows {
		if row.Metric == metric {
			return row, true
		}
	}
	return Row{}, false
}

// ParseFile reads a results file.
func ParseFile(path string) (*Results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}

// Parse reads a results table: the first markdown table whose header
// starts with "metric" gives the rows (its columns found by name: metric,
// ours, peer, ratio, target and result are required, others such as
// "limit" are ignored); "- key: value" lines give Meta.
func Parse(r io.Reader) (*Results, error) {
	res := &Results{Meta: map[string]string{}}
	sc := bufio.NewScanner(r)
	var cols map[string]int // nil until the header is seen
	done := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "- ") && strings.Contains(line, ": "):
			k, v, _ := strings.Cut(strings.TrimPrefix(line, "- "), ": ")
			res.Meta[k] = v
		case done || !strings.HasPrefix(line, "|"):
			done = cols != nil
		case cols == nil:
			cells := splitRow(line)
			if strings.EqualFold(cells[0], "metric") {
				var err error
				if cols, err = columns(cells); err != nil {
					return nil, err
				}
			}
		default:
			cells := splitRow(line)
			if isRule(cells) {
				continue
			}
			if len(cells) != len(cols) {
				return nil, fmt.Errorf("table row %q has %d cells, the header %d", line, len(cells), len(cols))
			}
			res.Rows = append(res.Rows, Row{cells[cols["metric"]], cells[cols["ours"]], cells[cols["peer"]],
				cells[cols["ratio"]], cells[cols["target"]], cells[cols["result"]]})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(res.Rows) == 0 {
		return nil, fmt.Errorf("no results table (a markdown table with a metric column); was it written by scripts/bench.sh?")
	}
	return res, nil
}

// columns maps the header's column names to their indexes.
func columns(header []string) (map[string]int, error) {
	cols := map[string]int{}
	for i, h := range header {
		cols[strings.ToLower(h)] = i
	}
	for _, want := range []string{"metric", "ours", "peer", "ratio", "target", "result"} {
		if _, ok := cols[want]; !ok {
			return nil, fmt.Errorf("results table has no %q column (header %q)", want, strings.Join(header, " | "))
		}
	}
	if len(cols) != len(header) {
		return nil, fmt.Errorf("results table header %q names a column twice", strings.Join(header, " | "))
	}
	return cols, nil
}

func splitRow(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	cells := strings.Split(line, "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

func isRule(cells []string) bool {
	for _, c := range cells {
		if strings.Trim(c, "-: ") != "" {
			return false
		}
	}
	return true
}

// RatioTarget is a target on the ratio column: "<= 0.70" or ">= 1.0".
type RatioTarget struct {
	Op    string // "<=" or ">="
	Limit float64
}

// ParseRatioTarget reads a target column; ok is false for targets that are
// not on the ratio ("info", "ours < 300", "report").
func ParseRatioTarget(s string) (t RatioTarget, ok bool) {
	for _, op := range []string{"<=", ">="} {
		if rest, found := strings.CutPrefix(s, op); found {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return RatioTarget{}, false
			}
			return RatioTarget{op, v}, true
		}
	}
	return RatioTarget{}, false
}

// Met tells whether ratio meets the target.
func (t RatioTarget) Met(ratio float64) bool {
	if t.Op == "<=" {
		return ratio <= t.Limit
	}
	return ratio >= t.Limit
}

// Worse tells by how much fresh is worse than recorded, as a fraction
// (0.2 = 20% worse); zero or negative when it is as good or better. For a
// "<=" target lower is better, for ">=" higher is.
func (t RatioTarget) Worse(recorded, fresh float64) float64 {
	if recorded <= 0 || fresh <= 0 {
		return 0
	}
	if t.Op == "<=" {
		return fresh/recorded - 1
	}
	return recorded/fresh - 1
}
