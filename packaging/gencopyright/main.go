// Command gencopyright writes the Debian copyright file of the
// hakgen-agent package: a hand-written head (hakgen's own paragraph),
// then one Files paragraph for the Go standard library and one for each
// module linked into the binary, with the license text that module's
// source carries. The modules are read from the binary's build
// information, so the file lists exactly what was linked.
//
// Usage:
//
//	gencopyright -head packaging/copyright -bin dist/amd64/hakgen-agent \
//	    -modcache "$(go env GOMODCACHE)" -goroot "$(go env GOROOT)" >copyright
package main

import (
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is the whole command; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gencopyright", flag.ContinueOnError)
	fs.SetOutput(stderr)
	head := fs.String("head", "", "hand-written head of the copyright `file`")
	bin := fs.String("bin", "", "the Go `binary` whose modules are listed")
	modcache := fs.String("modcache", "", "Go module cache `directory` (go env GOMODCACHE)")
	goroot := fs.String("goroot", "", "Go installation `directory` (go env GOROOT)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *head == "" || *bin == "" || *modcache == "" || *goroot == "" {
		fmt.Fprintln(stderr, "gencopyright: -head, -bin, -modcache and -goroot are required")
		return 2
	}
	if err := generate(stdout, *head, *bin, *modcache, *goroot); err != nil {
		fmt.Fprintf(stderr, "gencopyright: %v\n", err)
		return 1
	}
	return 0
}

// generate writes the whole copyright file to w.
func generate(w io.Writer, head, bin, modcache, goroot string) error {
	headText, err := os.ReadFile(head)
	if err != nil {
		return fmt.Errorf("reading head: %w", err)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("reading build information: %w", err)
	}
	paras := []paragraph{}
	std, err := readParagraph("go"+strings.TrimPrefix(info.GoVersion, "go")+"/src/*", goroot)
	if err != nil {
		return fmt.Errorf("go standard library: %w", err)
	}
	paras = append(paras, std)
	deps := info.Deps
	sort.Slice(deps, func(i, j int) bool { return deps[i].Path < deps[j].Path })
	for _, d := range deps {
		if d.Replace != nil {
			d = d.Replace
		}
		p, err := readParagraph(d.Path+"@"+d.Version+"/*", moduleDir(modcache, d.Path, d.Version))
		if err != nil {
			return fmt.Errorf("module %s: %w", d.Path, err)
		}
		paras = append(paras, p)
	}
	var b strings.Builder
	b.WriteString(strings.TrimRight(string(headText), "\n") + "\n")
	for _, p := range paras {
		b.WriteString("\n" + p.String())
	}
	b.WriteString("\n" + apacheParagraph)
	_, err = io.WriteString(w, b.String())
	return err
}

// apacheParagraph is the stand-alone license paragraph that hakgen's own
// paragraph and the Apache-2.0 modules refer to.
const apacheParagraph = `License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the "License"); you may not
 use this file except in compliance with the License. You may obtain a copy
 of the License at http://www.apache.org/licenses/LICENSE-2.0
 .
 Unless required by applicable law or agreed to in writing, software
 distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
 License for the specific language governing permissions and limitations
 under the License.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0
 can be found in "/usr/share/common-licenses/Apache-2.0".
`

// moduleDir is where the module cache keeps path@version: upper-case
// letters are escaped as '!' and the lower-case letter.
func moduleDir(modcache, path, version string) string {
	return filepath.Join(modcache, escape(path)+"@"+escape(version))
}

func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// licenseFiles are the names a module's license is looked for under, in
// this order.
var licenseFiles = []string{"LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "COPYING"}

// readLicense returns the license text found in dir.
func readLicense(dir string) (string, error) {
	for _, name := range licenseFiles {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			return string(data), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("reading license: %w", err)
		}
	}
	return "", fmt.Errorf("no license file (%s) in %s", strings.Join(licenseFiles, ", "), dir)
}
