package state

// ProblemAt returns a problem of this state at the field path (e.g.
// "keepalived.interface"), placed where the field, or the nearest field
// enclosing it, was written in the file. Checks outside this package (of
// the machine the state runs on) report through it, so that every problem
// names its place the same way.
func (s *State) ProblemAt(path, format string, args ...any) Problem {
	return s.problem(path, format, args...)
}
