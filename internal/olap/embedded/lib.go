package embedded

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// LibVersion is the chDB release this package is written against (chdb.h
// 26.7.3); scripts/install-chdb.sh installs exactly this build.
const LibVersion = "26.7.3-stable.1"

// EnvLib names the environment variable that points at a libchdb.so.
const EnvLib = "MOOSE_CHDB_LIB"

// DefaultLibPath is where scripts/install-chdb.sh puts the library:
// ${MOOSE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/moose}/chdb/<version>/libchdb.so.
// It does not check that the file exists.
func DefaultLibPath() string {
	root := os.Getenv("MOOSE_CACHE_DIR")
	if root == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				home = "."
			}
			cache = filepath.Join(home, ".cache")
		}
		root = filepath.Join(cache, "moose")
	}
	return filepath.Join(root, "chdb", LibVersion, "libchdb.so")
}

// ResolveLibPath picks the library path: explicit, else $MOOSE_CHDB_LIB,
// else DefaultLibPath.
func ResolveLibPath(explicit string) string {
	if explicit != "" {
		return explicit
	}
	if p := os.Getenv(EnvLib); p != "" {
		return p
	}
	return DefaultLibPath()
}

// ErrLibMissing reports that libchdb.so was not found; the wrapping error
// names the path tried and the fix.
var ErrLibMissing = errors.New("chDB library not found")

// api holds the chdb.h 26.7.3 functions. Pointer arguments are unsafe.Pointer
// or slices (purego passes a slice as a pointer to its first element and
// keeps it alive for the call). Handles are uintptr: they are C memory.
type api struct {
	version                 func() string
	setSignalHandlersEnable func(enabled int32)
	connect                 func(argc int32, argv []*byte) *uintptr // returns chdb_connection*, C memory
	closeConn               func(connPtr *uintptr)
	queryN                  func(conn uintptr, query unsafe.Pointer, queryLen uintptr, format unsafe.Pointer, formatLen uintptr) uintptr
	queryWithParamsN        func(conn uintptr, query unsafe.Pointer, queryLen uintptr, format unsafe.Pointer, formatLen uintptr,
		names []*byte, nameLens []uintptr, values []*byte, valueLens []uintptr, count uintptr) uintptr
	streamInsertN      func(conn uintptr, query unsafe.Pointer, queryLen uintptr, format unsafe.Pointer, formatLen uintptr) uintptr
	streamAppend       func(stream uintptr, data unsafe.Pointer, n uintptr) int32
	streamDone         func(stream uintptr) uintptr
	streamInsertError  func(stream uintptr) string
	destroyInsert      func(stream uintptr)
	resultBuffer       func(res uintptr) unsafe.Pointer
	resultLength       func(res uintptr) uintptr
	resultError        func(res uintptr) string
	resultRowsWritten  func(res uintptr) uint64
	destroyQueryResult func(res uintptr)
}

var (
	libOnce sync.Once
	libPath string
	lib     *api
	libErr  error
)

// load opens the library once per process. A process can hold only one
// libchdb.so: a later call with another path gets an error.
func load(path string) (*api, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w at %s: run scripts/install-chdb.sh or set %s", ErrLibMissing, path, EnvLib)
	}
	libOnce.Do(func() {
		libPath = path
		lib, libErr = open(path)
	})
	if libErr != nil {
		return nil, libErr
	}
	if path != libPath {
		return nil, fmt.Errorf("chDB is already loaded from %s in this process; cannot also load %s", libPath, path)
	}
	return lib, nil
}

func open(path string) (a *api, err error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("loading chDB from %s: %w", path, err)
	}
	defer func() {
		// RegisterLibFunc panics on a missing symbol: an older library.
		if r := recover(); r != nil {
			a, err = nil, fmt.Errorf("chDB at %s lacks a required function (need %s): %v", path, LibVersion, r)
		}
	}()
	a = &api{}
	reg := func(fptr any, name string) { purego.RegisterLibFunc(fptr, h, name) }
	reg(&a.version, "chdb_version")
	reg(&a.setSignalHandlersEnable, "chdb_set_signal_handlers_enabled")
	reg(&a.connect, "chdb_connect")
	reg(&a.closeConn, "chdb_close_conn")
	reg(&a.queryN, "chdb_query_n")
	reg(&a.queryWithParamsN, "chdb_query_with_params_n")
	reg(&a.streamInsertN, "chdb_stream_insert_n")
	reg(&a.streamAppend, "chdb_stream_append")
	reg(&a.streamDone, "chdb_stream_done")
	reg(&a.streamInsertError, "chdb_stream_insert_error")
	reg(&a.destroyInsert, "chdb_destroy_insert_stream")
	reg(&a.resultBuffer, "chdb_result_buffer")
	reg(&a.resultLength, "chdb_result_length")
	reg(&a.resultError, "chdb_result_error")
	reg(&a.resultRowsWritten, "chdb_result_rows_written")
	reg(&a.destroyQueryResult, "chdb_destroy_query_result")
	// Pitfall 1: chDB installs process-wide handlers for SIGSEGV, SIGINT and
	// friends by default, which takes them from the Go runtime (a Go panic
	// then hangs instead of being recovered). Turn that off before the first
	// connect; the flag is process-wide and sticky.
	a.setSignalHandlersEnable(0)
	return a, nil
}

// ptr is the address of b's first byte, or nil for an empty slice.
func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}
