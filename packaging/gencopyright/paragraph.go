package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// paragraph is one Files paragraph of a machine-readable copyright file.
type paragraph struct {
	files      string   // the Files pattern
	copyrights []string // the Copyright lines, at least one
	license    string   // the short license name(s)
	text       string   // the full license text; empty for Apache-2.0 alone
}

// readParagraph builds the paragraph of the source tree in dir, named by
// the files pattern, from its license file and NOTICE.
func readParagraph(files, dir string) (paragraph, error) {
	text, err := readLicense(dir)
	if err != nil {
		return paragraph{}, err
	}
	notice, _ := os.ReadFile(filepath.Join(dir, "NOTICE")) // optional
	p := paragraph{
		files:      files,
		copyrights: copyrightLines(text + "\n" + string(notice)),
		license:    classify(text),
	}
	if len(p.copyrights) == 0 {
		p.copyrights = []string{"the authors of " + strings.TrimSuffix(files, "/*")}
	}
	if p.license != "Apache-2.0" {
		p.text = text
	}
	return p, nil
}

// copyrightRE matches a copyright notice line, not the word in prose.
var copyrightRE = regexp.MustCompile(`(?i)^\s*copyright\s+(\(c\)|©|[0-9])`)

// copyrightLines returns the distinct copyright notices in text, without
// the word "Copyright".
func copyrightLines(text string) []string {
	var out []string
	seen := map[string]bool{}
	for line := range strings.Lines(text) {
		if !copyrightRE.MatchString(line) {
			continue
		}
		line = strings.TrimSpace(line)
		line = strings.TrimSpace(line[len("copyright"):])
		if !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	return out
}

// classify names the licenses a license text holds, with the short names
// of the Debian copyright format ("Expat and Apache-2.0" for a text that
// carries both), or "other".
func classify(text string) string {
	flat := strings.Join(strings.Fields(text), " ")
	var names []string
	if strings.Contains(flat, "Permission is hereby granted, free of charge") {
		names = append(names, "Expat")
	}
	if strings.Contains(flat, "Redistribution and use in source and binary forms") {
		if strings.Contains(flat, "Neither the name") || strings.Contains(flat, "names of its contributors") {
			names = append(names, "BSD-3-clause")
		} else {
			names = append(names, "BSD-2-clause")
		}
	}
	if strings.Contains(flat, "Apache License") && strings.Contains(flat, "Version 2.0") {
		names = append(names, "Apache-2.0")
	}
	if len(names) == 0 {
		return "other"
	}
	return strings.Join(names, " and ")
}

// String formats the paragraph; continuation lines start with a space and
// an empty line of the license text becomes " .".
func (p paragraph) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Files: %s\n", p.files)
	for i, c := range p.copyrights {
		if i == 0 {
			fmt.Fprintf(&b, "Copyright: %s\n", c)
		} else {
			fmt.Fprintf(&b, " %s\n", c)
		}
	}
	fmt.Fprintf(&b, "License: %s\n", p.license)
	b.WriteString(indent(p.text))
	return b.String()
}

// indent turns text into continuation lines.
func indent(text string) string {
	var b strings.Builder
	for line := range strings.Lines(strings.Trim(text, "\n")) {
		line = strings.TrimRight(strings.ReplaceAll(line, "\t", "    "), " \r\n")
		if line == "" {
			line = "."
		}
		b.WriteString(" " + line + "\n")
	}
	return b.String()
}
