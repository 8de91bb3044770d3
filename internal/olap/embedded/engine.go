package embedded

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/moose-go/moose/internal/olap"
)

// connSettings are query-level settings applied to every pooled connection
// (chDB treats --<setting>=<value> connect arguments as SET on that
// connection). They pin the JSON shape so results do not depend on engine
// defaults; the ClickHouse server store sets the same ones per request.
var connSettings = []string{
	"output_format_json_quote_64bit_integers=0", // Int64/UInt64 as JSON numbers
	"output_format_json_quote_decimals=0",
	"output_format_json_quote_denormals=0", // inf/nan as null
	"output_format_write_statistics=0",
	"output_format_json_escape_forward_slashes=0", // "a/b", not "a\/b"
	"output_format_json_validate_utf8=1",          // invalid UTF-8 becomes U+FFFD: the JSON stays valid
	"session_timezone=UTC",                        // DateTime text in and out is UTC
	"date_time_input_format=best_effort",          // accept ISO 8601 as well as "2006-01-02 15:04:05"
	"mutations_sync=2",                            // ALTER ... MODIFY/DROP COLUMN waits for its data rewrite
	// One INSERT is one block and so one part: a batch is stored whole or
	// not at all (see Insert). Ingest bounds batch sizes.
	"max_insert_block_size=1000000000",
	"min_insert_block_size_rows=0",
	"min_insert_block_size_bytes=0",
}

// serverConfig is written to <data dir>/moose-chdb.xml at every boot and
// passed as --config-file. Server-level options cannot be given as connect
// arguments (chDB ignores --merge_tree.x=y); a config file works.
//
// fsync: by default ClickHouse writes a new part's files and renames the
// part into place without fsync, so an acknowledged insert survives a process
// crash (the data is in the page cache) but not a power loss or kernel
// crash. fsync_after_insert and fsync_part_directory make each insert fsync
// its part files and directory before it returns.
// dedupWindow is how many recent insert blocks (per table) the engine
// remembers: an insert repeating the token of one of them stores nothing.
// Replay after a crash re-inserts its batches with their original tokens
// (see InsertDedup), so a batch that did commit is not stored twice.
const dedupWindow = "10000"

func serverConfig(fsync bool) string {
	v := "0"
	if fsync {
		v = "1"
	}
	return "<clickhouse>\n  <merge_tree>\n    <fsync_after_insert>" + v + "</fsync_after_insert>\n" +
		"    <fsync_part_directory>" + v + "</fsync_part_directory>\n" +
		"    <non_replicated_deduplication_window>" + dedupWindow + "</non_replicated_deduplication_window>\n" +
		"  </merge_tree>\n</clickhouse>\n"
}

// engine is the one chDB instance of this process. chDB boots one engine per
// process on one data path; closing its last connection shuts it down, and
// repeated shutdown/boot cycles are unsafe. So the engine holds an anchor
// connection from the first Open until the process exits, and a later Open
// on the same directory reuses it.
type engine struct {
	api    *api
	dir    string
	lock   *os.File
	anchor *uintptr
	stores int  // open Stores
	fsync  bool // as booted
}

var (
	engMu sync.Mutex
	eng   *engine
)

var errLocked = errors.New("locked")

// startEngine returns the process engine for dir, booting it if needed, and
// counts one more open Store.
func startEngine(a *api, dir string, fsync bool) (*engine, error) {
	engMu.Lock()
	defer engMu.Unlock()
	if eng != nil && eng.dir != dir {
		if eng.stores > 0 {
			return nil, fmt.Errorf("%w: chDB runs one data directory per process and %s is open; close it before opening %s",
				olap.ErrUnavailable, eng.dir, dir)
		}
		// No Store uses the old directory: shut it down and boot on the new
		// one. Costly (a full engine shutdown and boot); fine for tools, not
		// for a hot path.
		a.closeConn(eng.anchor)
		eng.lock.Close()
		eng = nil
	}
	if eng == nil {
		lock, err := lockDir(filepath.Join(dir, "moose.lock"))
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("%w: data directory %s is in use by another moose process", olap.ErrUnavailable, dir)
		}
		if err != nil {
			return nil, fmt.Errorf("locking data directory %s: %w", dir, err)
		}
		cfg := filepath.Join(dir, "moose-chdb.xml")
		if err := os.WriteFile(cfg, []byte(serverConfig(fsync)), 0o644); err != nil {
			lock.Close()
			return nil, fmt.Errorf("writing engine config: %w", err)
		}
		anchor, err := connect(a, dir, []string{"config-file=" + cfg})
		if err != nil {
			lock.Close()
			return nil, err
		}
		eng = &engine{api: a, dir: dir, lock: lock, anchor: anchor, fsync: fsync}
	}
	eng.stores++
	return eng, nil
}

// release marks one Store closed. The engine itself stays up.
func (e *engine) release() {
	engMu.Lock()
	e.stores--
	engMu.Unlock()
}

// connect opens one chDB connection on dir with extra --setting=value args.
func connect(a *api, dir string, settings []string) (*uintptr, error) {
	args := append([]string{"clickhouse", "--path=" + dir}, prefixed(settings)...)
	argv := make([]*byte, len(args)+1) // NULL-terminated, as main's argv
	for i, s := range args {
		b := append([]byte(s), 0)
		argv[i] = &b[0]
	}
	c := a.connect(int32(len(args)), argv)
	if c == nil || *c == 0 {
		return nil, fmt.Errorf("%w: chDB could not open data directory %s (is another process using it? chDB locks %s)",
			olap.ErrUnavailable, dir, filepath.Join(dir, "status"))
	}
	return c, nil
}

func prefixed(settings []string) []string {
	out := make([]string, len(settings))
	for i, s := range settings {
		out[i] = "--" + s
	}
	return out
}

// conn is one pooled chDB connection. A connection runs one statement at a
// time, and query parameters are bound on the connection, so a conn is used
// by one goroutine at a time (pitfall 2).
type conn struct {
	api *api
	ptr *uintptr // chdb_connection*
}

func (c *conn) handle() uintptr { return *c.ptr }

func (c *conn) close() { c.api.closeConn(c.ptr) }

var (
	fmtJSONCompact = []byte("JSONCompact")
	fmtTSV         = []byte("TabSeparated")
	fmtJSONEachRow = []byte("JSONEachRow")
)

// query runs sql and returns the result bytes, or an engine error.
func (c *conn) query(sql string, format []byte, params []olap.Param) ([]byte, error) {
	q := []byte(sql)
	var res uintptr
	if len(params) == 0 {
		res = c.api.queryN(c.handle(), ptr(q), uintptr(len(q)), ptr(format), uintptr(len(format)))
	} else {
		n := len(params)
		names, values := make([]*byte, n), make([]*byte, n)
		nameLens, valueLens := make([]uintptr, n), make([]uintptr, n)
		for i, p := range params {
			text, err := paramText(p)
			if err != nil {
				return nil, err
			}
			// Each value gets a trailing NUL so that an empty value still has
			// a valid address; the length excludes it.
			nb, vb := append([]byte(p.Name), 0), append([]byte(text), 0)
			names[i], nameLens[i] = &nb[0], uintptr(len(p.Name))
			values[i], valueLens[i] = &vb[0], uintptr(len(text))
		}
		res = c.api.queryWithParamsN(c.handle(), ptr(q), uintptr(len(q)), ptr(format), uintptr(len(format)),
			names, nameLens, values, valueLens, uintptr(n))
	}
	return c.take(res)
}

// take copies a result's bytes into Go memory and destroys it.
func (c *conn) take(res uintptr) ([]byte, error) {
	if res == 0 {
		return nil, fmt.Errorf("%w: chDB returned no result", olap.ErrUnavailable)
	}
	defer c.api.destroyQueryResult(res)
	if msg := c.api.resultError(res); msg != "" {
		return nil, engineError(msg)
	}
	n := c.api.resultLength(res)
	if n == 0 {
		return nil, nil
	}
	buf := c.api.resultBuffer(res)
	if buf == nil {
		return nil, nil
	}
	return append([]byte(nil), unsafe.Slice((*byte)(buf), n)...), nil
}

// insertChunk is the most JSONEachRow text handed to chDB in one append
// (pitfall 5: one huge statement blows up memory).
const insertChunk = 2 << 20

// insert streams rows (JSONEachRow) into table in chunks split on line
// boundaries. cancelled is polled between chunks; a cancelled insert is
// aborted without committing.
func (c *conn) insert(table, settings string, rows []byte, cancelled func() error) error {
	q := []byte("INSERT INTO " + quoteIdent(table) + settings)
	s := c.api.streamInsertN(c.handle(), ptr(q), uintptr(len(q)), ptr(fmtJSONEachRow), uintptr(len(fmtJSONEachRow)))
	if s == 0 {
		return fmt.Errorf("%w: chDB returned no insert stream", olap.ErrUnavailable)
	}
	// Destroying a stream that was not finished cancels it: nothing commits.
	defer c.api.destroyInsert(s)
	if msg := c.api.streamInsertError(s); msg != "" {
		return engineError(msg)
	}
	for len(rows) > 0 {
		if err := cancelled(); err != nil {
			return err
		}
		chunk := rows
		if len(chunk) > insertChunk {
			cut := insertChunk
			if i := lastNewline(rows[:insertChunk]); i >= 0 {
				cut = i + 1
			} else if j := indexNewline(rows[insertChunk:]); j >= 0 {
				cut = insertChunk + j + 1 // one line longer than a chunk
			} else {
				cut = len(rows)
			}
			chunk = rows[:cut]
		}
		if c.api.streamAppend(s, ptr(chunk), uintptr(len(chunk))) != 0 {
			msg := c.api.streamInsertError(s)
			if msg == "" {
				msg = "chDB refused the insert data"
			}
			return engineError(msg)
		}
		rows = rows[len(chunk):]
	}
	if err := cancelled(); err != nil {
		return err
	}
	_, err := c.take(c.api.streamDone(s))
	if err == nil {
		if msg := c.api.streamInsertError(s); msg != "" {
			return engineError(msg)
		}
	}
	return err
}

func lastNewline(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			return i
		}
	}
	return -1
}

func indexNewline(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

// engineError maps a chDB message ("Code: 60. DB::Exception: ... (UNKNOWN_TABLE)")
// to the olap sentinels, keeping the first line of the engine's text.
func engineError(msg string) error {
	first, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	switch exceptionCode(first) {
	case 60, 81: // UNKNOWN_TABLE, UNKNOWN_DATABASE
		return fmt.Errorf("%w: %s", olap.ErrTableNotFound, first)
	}
	return fmt.Errorf("%w: %s", olap.ErrBadQuery, first)
}

func exceptionCode(msg string) int {
	rest, ok := strings.CutPrefix(msg, "Code: ")
	if !ok {
		return 0
	}
	num, _, _ := strings.Cut(rest, ".")
	n, _ := strconv.Atoi(num)
	return n
}
