package state

import (
	"errors"

	goccy "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
)

// syntaxPos finds where a YAML syntax error is, line and column, and what
// it is: the YAML decoder this package uses reports only a line (often
// where the broken construct began), so the file is parsed once more, by
// a parser that keeps the column of the token it stopped at. ok is false
// when that parser found no error to place.
func syntaxPos(data []byte) (pos Pos, msg string, ok bool) {
	_, err := parser.ParseBytes(data, 0)
	var se *goccy.SyntaxError
	if !errors.As(err, &se) || se.Token == nil || se.Token.Position == nil {
		return Pos{}, "", false
	}
	return Pos{Line: se.Token.Position.Line, Col: se.Token.Position.Column}, se.Message, true
}
