package state

import "context"

// LoadSkippingSecrets reads, parses and validates the state file at path
// as LoadContext does, but reads no secret file: for a check that reports
// on the secret files itself (validate, on a laptop before they exist).
// Rendering a state that uses stats authentication needs LoadSecrets
// first.
func LoadSkippingSecrets(ctx context.Context, path string) (*State, Problems, error) {
	return load(ctx, path, false)
}
