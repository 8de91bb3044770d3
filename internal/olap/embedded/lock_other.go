//go:build !unix

package embedded

import "os"

// lockDir is a plain open where flock is unavailable; chDB's own lock on
// its status file still refuses a second process.
func lockDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}
