// Package filekind names the type of a file for messages: "a named pipe
// (FIFO)" reads better at 3 a.m. than "p---------".
package filekind

import "io/fs"

// Of names the type of a file with mode m, with its article: "a regular
// file", "a directory", "a character device", ...
func Of(m fs.FileMode) string {
	switch t := m.Type(); {
	case t == 0:
		return "a regular file"
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeSymlink != 0:
		return "a symbolic link"
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a block device"
	default:
		return "a special file (" + t.String() + ")"
	}
}
