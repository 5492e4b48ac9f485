package state

import "path/filepath"

// LoadSkippingSecrets reads, parses and validates the state file at path
// as Load does, but reads no secret file: for a check that reports on the
// secret files itself (validate, on a laptop before they exist). Rendering
// a state that uses stats authentication needs LoadSecrets first.
func LoadSkippingSecrets(path string) (*State, Problems, error) {
	data, err := readLimited(path, MaxFileSize)
	if err != nil {
		return nil, nil, err
	}
	s, warnings, err := Parse(path, data)
	if err != nil {
		return nil, warnings, err
	}
	s.dir = filepath.Dir(path)
	return s, warnings, nil
}
