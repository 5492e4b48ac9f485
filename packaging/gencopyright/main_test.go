package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"Permission is hereby granted, free of\n charge, to any person", "Expat"},
		{"Redistribution and use in source and binary forms ... Neither the name of Google", "BSD-3-clause"},
		{"Redistribution and use in source and binary forms, with or without", "BSD-2-clause"},
		{"Apache License\n Version 2.0, January 2004", "Apache-2.0"},
		{"MIT: Permission is hereby granted, free of charge\nand Apache License Version 2.0", "Expat and Apache-2.0"},
		{"All rights reserved.", "other"},
	} {
		if got := classify(tc.text); got != tc.want {
			t.Errorf("classify(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestCopyrightLines(t *testing.T) {
	text := "Copyright (c) 2012 The Go Authors. All rights reserved.\n" +
		"the copyright owner or by an individual\n" +
		"   Copyright 2015 CoreOS, Inc\n" +
		"Copyright (c) 2012 The Go Authors. All rights reserved.\n" +
		"Copyright © 2020 Someone\n"
	want := []string{"(c) 2012 The Go Authors. All rights reserved.", "2015 CoreOS, Inc", "© 2020 Someone"}
	if got := copyrightLines(text); !reflect.DeepEqual(got, want) {
		t.Errorf("copyrightLines = %q, want %q", got, want)
	}
}

func TestParagraphFormat(t *testing.T) {
	p := paragraph{
		files:      "example.com/m@v1.0.0/*",
		copyrights: []string{"2020 A", "2021 B"},
		license:    "Expat",
		text:       "Line one\n\n\tindented  \n",
	}
	want := "Files: example.com/m@v1.0.0/*\n" +
		"Copyright: 2020 A\n 2021 B\n" +
		"License: Expat\n Line one\n .\n     indented\n"
	if got := p.String(); got != want {
		t.Errorf("paragraph:\n%s\nwant:\n%s", got, want)
	}
}

func TestModuleDirEscapesUpperCase(t *testing.T) {
	got := moduleDir("/c", "github.com/GehirnInc/crypt", "v0.0.0-X")
	if want := "/c/github.com/!gehirn!inc/crypt@v0.0.0-!x"; got != want {
		t.Errorf("moduleDir = %q, want %q", got, want)
	}
}

// TestGenerateOwnBinary generates the copyright file of this test binary
// from the real module cache and Go installation.
func TestGenerateOwnBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	head := filepath.Join(t.TempDir(), "head")
	if err := os.WriteFile(head, []byte("Format: x\n\nFiles: *\nLicense: Apache-2.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	code := run([]string{"-head", head, "-bin", self, "-modcache", t.TempDir(), "-goroot", goroot(t)}, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, want := range []string{`(?m)^Format: x$`, `(?m)^Files: go[0-9.]+\S*/src/\*$`, `(?m)^Copyright: .*The Go Authors`,
		`(?m)^License: BSD-3-clause$`, `(?m)^License: Apache-2.0\n Licensed under`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("output does not match %s:\n%s", want, out.String())
		}
	}
}

func TestRunRefusesMissingFlags(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{"-bin", "x"}, &out, &errs); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}

// goroot asks the go command for its installation directory.
func goroot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	return strings.TrimSpace(string(out))
}
