package hetzner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hakgen/hakgen/internal/secretfile"
)

// Token is a Hetzner Cloud API token. Its String and GoString methods
// return a placeholder, so a Token that ends up in a log line or an error
// message by mistake shows nothing secret; Reveal returns the value.
type Token string

// Reveal returns the token itself, for the Authorization header only.
func (t Token) Reveal() string { return string(t) }

// String hides the token.
func (t Token) String() string { return "[redacted]" }

// GoString hides the token from %#v.
func (t Token) GoString() string { return "hetzner.Token([redacted])" }

// CredentialName is the systemd credential holding the token
// (LoadCredential=hcloud-token:/path in the unit).
const CredentialName = "hcloud-token"

// ErrNoToken means none of the token sources had a token.
var ErrNoToken = errors.New("no Hetzner Cloud API token: set hcloud.tokenFile, " +
	"pass the systemd credential " + CredentialName + " (LoadCredential=) or set HCLOUD_TOKEN")

// TokenSources are the places a token is looked for, in this order.
type TokenSources struct {
	// File is hcloud.tokenFile (or floatingIP.tokenFile). When set, it must exist, be a regular
	// file owned by root (or by the effective user) and give group and
	// others no access; it is the only source then.
	File string
	// CredentialsDir is $CREDENTIALS_DIRECTORY, set by systemd for a unit
	// with LoadCredential=; the token is read from CredentialName in it.
	// systemd makes that directory private to the service.
	CredentialsDir string
	// Env is the value of HCLOUD_TOKEN, the last resort.
	Env string
}

// TokenSourcesFromEnv returns the sources for tokenFile plus
// $CREDENTIALS_DIRECTORY and $HCLOUD_TOKEN from the environment.
func TokenSourcesFromEnv(tokenFile string) TokenSources {
	return TokenSources{
		File:           tokenFile,
		CredentialsDir: os.Getenv("CREDENTIALS_DIRECTORY"),
		Env:            os.Getenv("HCLOUD_TOKEN"),
	}
}

// LoadToken loads the token from tokenFile, the systemd credential or
// HCLOUD_TOKEN (see TokenSources). It returns the token and where it came
// from (a path or "HCLOUD_TOKEN"), fit for a log line.
func LoadToken(tokenFile string) (Token, string, error) {
	return TokenSourcesFromEnv(tokenFile).Load()
}

// Load returns the token from the first source that has one, and where it
// came from. A configured File that is missing, unsafe or empty is an
// error: the other sources are not tried then.
func (s TokenSources) Load() (Token, string, error) {
	if s.File != "" {
		tok, err := readTokenFile(s.File, true)
		return tok, s.File, err
	}
	if s.CredentialsDir != "" {
		path := filepath.Join(s.CredentialsDir, CredentialName)
		tok, err := readTokenFile(path, false)
		if !errors.Is(err, os.ErrNotExist) {
			return tok, path, err
		}
	}
	if s.Env != "" {
		tok, err := parseToken(s.Env, "HCLOUD_TOKEN")
		return tok, "HCLOUD_TOKEN", err
	}
	return "", "", ErrNoToken
}

// readTokenFile reads a token file; see secretfile.Read for the checks.
func readTokenFile(path string, checkPerm bool) (Token, error) {
	raw, err := secretfile.Read(path, "token file", checkPerm)
	if err != nil {
		return "", err
	}
	return parseToken(raw, "token file "+path)
}

// parseToken trims surrounding white space (a trailing newline is usual)
// and refuses anything but visible ASCII, which is all a token holds. Messages name
// the source, never the value.
func parseToken(raw, source string) (Token, error) {
	tok := strings.TrimSpace(raw)
	switch {
	case tok == "":
		return "", fmt.Errorf("%s is empty: %w", source, ErrNoToken)
	case strings.ContainsAny(tok, " \t\r\n"):
		return "", fmt.Errorf("%s holds more than one word: expected the API token alone", source)
	case strings.IndexFunc(tok, notVisibleASCII) >= 0:
		return "", fmt.Errorf("%s holds characters that cannot be in an API token", source)
	}
	return Token(tok), nil
}

func notVisibleASCII(r rune) bool { return r < 0x21 || r > 0x7e }
