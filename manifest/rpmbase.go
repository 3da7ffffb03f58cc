package manifest

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// ReadRPMBase reads spec.rpmBase: the packages assumed installed on the
// hosts, one name per line, with blank lines and '#' comments ignored.
// It returns nil when the manifest names no rpmBase.
func (s *Stack) ReadRPMBase() ([]string, error) {
	if s.Spec.RPMBase == "" {
		return nil, nil
	}
	f, err := s.Open(s.Spec.RPMBase)
	if err != nil {
		return nil, fmt.Errorf("rpmBase %s: %w", s.Display(s.Spec.RPMBase), OpenError(err))
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if !rpmSpecRE.MatchString(text) {
			return nil, fmt.Errorf("rpmBase %s:%d: %q is not a package name", s.Display(s.Spec.RPMBase), line, text)
		}
		names = append(names, text)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("rpmBase %s: %w", s.Display(s.Spec.RPMBase), err)
	}
	return names, nil
}

// OpenError is an error of Stack.Open without the path it names: the
// cause of an *fs.PathError, for messages that name the path themselves.
func OpenError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
