package rpm

// Vercmp compares two version (or release) strings with rpm's rpmvercmp
// algorithm: it returns -1, 0 or 1. Strings are split into runs of digits
// and runs of letters, other characters only separate runs; numeric runs
// compare as numbers and beat alphabetic ones; '~' sorts before anything,
// even the end of the string, and '^' sorts after the end of the string but
// before anything else.
func Vercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		i = skipSeparators(a, i)
		j = skipSeparators(b, j)
		if r, done := compareTilde(a, b, &i, &j); done {
			return r
		} else if r != 2 {
			continue
		}
		if r, done := compareCaret(a, b, &i, &j); done {
			return r
		} else if r != 2 {
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		segA, segB, isNum := nextSegments(a, b, i, j)
		i += len(segA)
		j += len(segB)
		if segB == "" {
			// Different kinds of segment: a number beats letters.
			if isNum {
				return 1
			}
			return -1
		}
		if r := compareSegment(segA, segB, isNum); r != 0 {
			return r
		}
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i < len(a):
		return 1
	default:
		return -1
	}
}

func skipSeparators(s string, i int) int {
	for i < len(s) && !isAlnum(s[i]) && s[i] != '~' && s[i] != '^' {
		i++
	}
	return i
}

// compareTilde handles '~'. It returns (result, true) when decided,
// (0, false) when both had a tilde (consumed), and (2, false) otherwise.
func compareTilde(a, b string, i, j *int) (int, bool) {
	ta := *i < len(a) && a[*i] == '~'
	tb := *j < len(b) && b[*j] == '~'
	switch {
	case ta && tb:
		*i++
		*j++
		return 0, false
	case ta:
		return -1, true
	case tb:
		return 1, true
	}
	return 2, false
}

// compareCaret handles '^' like compareTilde, with rpm's rules: the end of a
// string sorts before '^', and '^' sorts before any other segment.
func compareCaret(a, b string, i, j *int) (int, bool) {
	ca := *i < len(a) && a[*i] == '^'
	cb := *j < len(b) && b[*j] == '^'
	if !ca && !cb {
		return 2, false
	}
	switch {
	case *i >= len(a):
		return -1, true
	case *j >= len(b):
		return 1, true
	case !ca:
		return 1, true
	case !cb:
		return -1, true
	}
	*i++
	*j++
	return 0, false
}

// nextSegments takes the next run from a (digits or letters, by its first
// byte) and the run of the same kind from b, which may be empty.
func nextSegments(a, b string, i, j int) (string, string, bool) {
	isNum := isDigit(a[i])
	take := func(s string, k int) string {
		e := k
		for e < len(s) && (isNum && isDigit(s[e]) || !isNum && isAlpha(s[e])) {
			e++
		}
		return s[k:e]
	}
	return take(a, i), take(b, j), isNum
}

func compareSegment(x, y string, isNum bool) int {
	if isNum {
		x, y = trimZeros(x), trimZeros(y)
		if len(x) != len(y) {
			if len(x) > len(y) {
				return 1
			}
			return -1
		}
	}
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func trimZeros(s string) string {
	for len(s) > 0 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// CompareEVR orders two EVRs as rpm orders packages: epoch (absent is 0)
// numerically, then version, then release with Vercmp. When either release
// is empty the releases are not compared, as rpm does for a dependency that
// names no release.
func CompareEVR(a, b EVR) int {
	ea, eb := a.EpochNum(), b.EpochNum()
	if ea != eb {
		if ea < eb {
			return -1
		}
		return 1
	}
	if r := Vercmp(a.Version, b.Version); r != 0 {
		return r
	}
	if a.Release == "" || b.Release == "" {
		return 0
	}
	return Vercmp(a.Release, b.Release)
}
