package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/moose-go/moose/internal/olap"
)

// Error is a failed request. It wraps one olap sentinel (Kind), so callers
// match it with errors.Is(err, olap.ErrBadQuery) and reach the server's code
// with errors.As.
type Error struct {
	Op     string // "insert", "query", "apply", ...
	Code   int    // ClickHouse error code; 0 when the server sent none
	Status int    // HTTP status; 0 when no response arrived
	Msg    string // first line of the server's text, or the transport error
	Kind   error  // the olap sentinel
	cause  error  // transport or context error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("clickhouse ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.Code != 0 {
		b.WriteString("code ")
		b.WriteString(strconv.Itoa(e.Code))
		b.WriteString(": ")
	} else if e.Status != 0 {
		b.WriteString("HTTP ")
		b.WriteString(strconv.Itoa(e.Status))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel and, for transport failures, the cause (so
// errors.Is(err, context.DeadlineExceeded) works too).
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Kind, e.cause}
	}
	return []error{e.Kind}
}

// ClickHouse error codes that moose tells apart. Names as in ClickHouse's
// ErrorCodes.cpp.
const (
	codeUnknownTable       = 60
	codeUnknownDatabase    = 81
	codeUnknownIdentifier  = 47
	codeUnknownUser        = 192
	codeWrongPassword      = 193
	codeRequiredPassword   = 194
	codeIPNotAllowed       = 195
	codeAuthenticationFail = 516
	codeTimeoutExceeded    = 159
	codeTooManyQueries     = 202
	codeNoFreeConnection   = 203
	codeSocketTimeout      = 209
	codeNetworkError       = 210
	codeMemoryLimit        = 241
	codeTableIsReadOnly    = 242
	codeTooManyParts       = 252
	codeAllReplicasLost    = 279
	codeKeeperException    = 999
	codeQueryWasCancelled  = 394
)

// classify maps a server error code (and HTTP status when there is no code)
// to a sentinel.
func classify(code, status int) error {
	switch code {
	case codeUnknownTable, codeUnknownDatabase:
		return olap.ErrTableNotFound
	case codeUnknownUser, codeWrongPassword, codeRequiredPassword, codeIPNotAllowed, codeAuthenticationFail,
		codeTimeoutExceeded, codeNoFreeConnection, codeSocketTimeout, codeNetworkError,
		codeMemoryLimit, codeTableIsReadOnly, codeTooManyParts, codeAllReplicasLost, codeKeeperException,
		codeQueryWasCancelled, codeTooManyQueries:
		return olap.ErrUnavailable
	case 0:
		switch {
		case status == 404:
			return olap.ErrTableNotFound
		case status >= 500 || status == 401 || status == 403 || status == 407 || status == 429:
			return olap.ErrUnavailable
		case status >= 400:
			return olap.ErrBadQuery
		}
		return olap.ErrUnavailable
	}
	// The server parsed the request and rejected it: syntax, types,
	// unknown columns or functions, unparsable input, readonly, ...
	return olap.ErrBadQuery
}

// 18.16: "Code: 60, e.displayText() = DB::Exception: Table x doesn't exist., e.what() = DB::Exception"
// current: "Code: 60. DB::Exception: Table x does not exist. (UNKNOWN_TABLE) (version 24.3.1.1)"
var codeRE = regexp.MustCompile(`^Code: (\d+)[.,]\s*`)

// serverError builds the error for a non-2xx response body.
func serverError(op string, status int, header string, body []byte) *Error {
	text := strings.TrimSpace(string(body))
	code := 0
	if h, err := strconv.Atoi(header); err == nil {
		code = h
	}
	if m := codeRE.FindStringSubmatch(text); m != nil {
		if code == 0 {
			code, _ = strconv.Atoi(m[1])
		}
		text = text[len(m[0]):]
	}
	return &Error{Op: op, Code: code, Status: status, Msg: cleanMessage(text), Kind: classify(code, status)}
}

// cleanMessage keeps the first line of the server's text, without the
// exception boilerplate, at most 400 bytes.
func cleanMessage(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimPrefix(s, "e.displayText() = ")
	s = strings.TrimPrefix(s, "DB::Exception: ")
	s = strings.TrimSuffix(s, ", e.what() = DB::Exception")
	s = strings.TrimSpace(s)
	const max = 400
	if len(s) > max {
		s = s[:max] + "..."
	}
	if s == "" {
		s = "no message"
	}
	return s
}

// transportError wraps a failure to get a response at all.
func transportError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.Canceled) {
			// The caller gave up: not the engine's fault.
			return fmt.Errorf("clickhouse %s: %w", op, ctxErr)
		}
		return &Error{Op: op, Msg: "timed out", Kind: olap.ErrUnavailable, cause: ctxErr}
	}
	// *url.Error repeats the whole URL (query text included); keep only the
	// underlying failure.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		msg = "timed out: " + msg
	}
	return &Error{Op: op, Msg: msg, Kind: olap.ErrUnavailable, cause: err}
}
