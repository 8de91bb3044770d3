package ingest

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/moose-go/moose/internal/project"
)

// MaxDepth caps the nesting of arrays and objects in an ingest body (the
// top-level array counts as 1, each record object as 1 more).
const MaxDepth = 64

// RecordError is a rejected body or record: a 400. Index is the record's
// position in the body (0 for a single-object body), or -1 when the body as
// a whole is not acceptable (not JSON, not an object or array of objects);
// then Reason carries the byte offset. Field names the column or JSON key
// at fault, or is "".
type RecordError struct {
	Index  int
	Field  string
	Reason string
}

func (e *RecordError) Error() string {
	var s string
	if e.Index >= 0 {
		s = "record " + strconv.Itoa(e.Index) + ": "
	}
	if e.Field != "" {
		s += "field " + strconv.Quote(e.Field) + ": "
	}
	return s + e.Reason
}

// EncoderOptions tunes an Encoder for its engine. The zero value suits
// current ClickHouse and chDB.
type EncoderOptions struct {
	// BoolAsInt writes Bool values as 1 and 0 instead of true and false,
	// for ClickHouse servers too old to have Bool (18.16, where a Bool
	// column is UInt8). Default false.
	BoolAsInt bool
}

// Encoder validates ingest bodies for one model and encodes them as
// JSONEachRow. It is safe for concurrent use.
type Encoder struct {
	model      *project.Model
	cols       []column
	index      map[string]int
	allowExtra bool
	boolAsInt  bool
	hasClaims  bool
	pool       sync.Pool // *state
}

type column struct {
	name     string
	prefix   []byte // `{"name":` for the first column, `,"name":` after
	t        *vtype
	nullable bool
	claim    string
}

// vtype is a compiled project.Type.
type vtype struct {
	kind        project.Kind
	prec, scale int
	elem        *vtype
	name        string // canonical type text
	expect      string // "expected Int32 (-2147483648..2147483647)"
	posMax      uint64 // integers: largest magnitude of a positive value
	negMax      uint64 // integers: largest magnitude of a negative value
	maxIntDigit int    // Decimal: P-S
}

// NewEncoder compiles the model's columns into an encoder. At most one
// EncoderOptions may be given.
func NewEncoder(m *project.Model, opts ...EncoderOptions) (*Encoder, error) {
	e := &Encoder{model: m, index: make(map[string]int, len(m.Columns)), allowExtra: m.AllowExtraFields}
	if len(opts) > 1 {
		return nil, fmt.Errorf("NewEncoder: %d EncoderOptions given, want at most one", len(opts))
	}
	for _, o := range opts {
		e.boolAsInt = o.BoolAsInt
	}
	for k, c := range m.Columns {
		pt, err := project.ParseType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("model %s: column %s: %w", m.Name, c.Name, err)
		}
		if _, dup := e.index[c.Name]; dup {
			return nil, fmt.Errorf("model %s: duplicate column %s", m.Name, c.Name)
		}
		e.index[c.Name] = k
		prefix := []byte{','}
		if k == 0 {
			prefix[0] = '{'
		}
		prefix = strconv.AppendQuote(prefix, c.Name) // identifiers: no escapes needed
		prefix = append(prefix, ':')
		e.cols = append(e.cols, column{name: c.Name, prefix: prefix, t: compile(pt), nullable: !c.Required, claim: c.JWTClaim})
		if c.JWTClaim != "" {
			e.hasClaims = true
		}
	}
	e.pool.New = func() any {
		return &state{e: e, spans: make([]span, len(e.cols))}
	}
	return e, nil
}

// Model returns the model the encoder validates against.
func (e *Encoder) Model() *project.Model { return e.model }

func compile(t project.Type) *vtype {
	v := &vtype{kind: t.Kind, prec: t.Precision, scale: t.Scale, name: t.String()}
	if t.Elem != nil {
		v.elem = compile(*t.Elem)
	}
	switch k := t.Kind; {
	case k.IsInteger():
		bits := k.Bits()
		if k.IsSigned() {
			v.posMax = 1<<(bits-1) - 1
			v.negMax = 1 << (bits - 1)
			v.expect = fmt.Sprintf("expected %s (%d..%d)", v.name, -int64(v.negMax-1)-1, v.posMax)
		} else {
			v.posMax = math.MaxUint64 >> (64 - bits)
			v.expect = fmt.Sprintf("expected %s (0..%d)", v.name, v.posMax)
		}
	case k == project.KindDate:
		v.expect = `expected Date ("YYYY-MM-DD", 1970-01-01..2149-06-06)`
	case k == project.KindDateTime, k == project.KindDateTime64:
		v.expect = "expected " + v.name + ` (RFC 3339 or "YYYY-MM-DD hh:mm:ss")`
	case k == project.KindUUID:
		v.expect = "expected UUID (8-4-4-4-12 hex digits)"
	case k == project.KindDecimal:
		v.maxIntDigit = t.Precision - t.Scale
		v.expect = fmt.Sprintf("expected %s (a number or numeric string with at most %d integer and %d fraction digits)",
			v.name, v.maxIntDigit, t.Scale)
	case k == project.KindArray:
		v.expect = "expected " + v.name + " (a JSON array)"
	case k == project.KindBool:
		v.expect = "expected Bool (true or false)"
	case k == project.KindString, k == project.KindLowCardinality:
		v.expect = "expected " + v.name + " (a JSON string)"
	default:
		v.expect = "expected " + v.name + " (a JSON number)"
	}
	return v
}

// Encode validates body (one JSON object or an array of objects) and
// appends one JSONEachRow line per record to dst: keys in column order,
// values in their canonical form, absent Nullable fields as null, JWT-claim
// columns from claims (the verified token's claims; nil if none). It stops
// at the first bad record. On error out is dst unchanged (same length), n
// is 0, and err is a *RecordError.
func (e *Encoder) Encode(dst, body []byte, claims map[string]any) (out []byte, n int, err error) {
	return e.run(dst, body, claims, nil)
}

// EncodeEach is like Encode but does not stop at a bad record: good records
// go to dst, and each bad one is reported to reject with its index, its raw
// JSON (a sub-slice of body) and the error. A body that is not JSON at all
// is still an error, and so is a missing JWT claim (not the record's
// fault); reject is called only once the whole body is known to be valid
// JSON, so on error nothing has been reported.
func (e *Encoder) EncodeEach(dst, body []byte, claims map[string]any,
	reject func(index int, raw []byte, err *RecordError)) (out []byte, n int, err error) {
	if reject == nil {
		reject = func(int, []byte, *RecordError) {}
	}
	return e.run(dst, body, claims, reject)
}

type span struct{ start, end int32 }

const absent = -1

type rejected struct {
	index int
	raw   []byte
	err   *RecordError
}

// state is one call's scanner. Encoders pool them.
type state struct {
	e      *Encoder
	b      []byte
	i      int
	depth  int
	claims map[string]any
	each   bool

	vals  []byte // encoded values of the current record
	spans []span // per column; start == absent when the field was not sent

	serr    *RecordError // syntax error: the body is not valid JSON
	vmsg    string       // value error: what was expected
	vstart  int          // value error: offset of the offending value
	rerr    *RecordError // record error
	fatal   bool         // rerr must fail the whole call, even in EncodeEach
	rejects []rejected

	claimsDone bool
	claimBuf   []byte
	claimSpans []span

	extra map[string]struct{}
	tmp   []byte // unescaped strings
	dig   []byte // decimal digits
}

func (e *Encoder) run(dst, body []byte, claims map[string]any,
	reject func(int, []byte, *RecordError)) ([]byte, int, error) {
	s := e.pool.Get().(*state)
	s.b, s.i, s.depth, s.claims, s.each = body, 0, 0, claims, reject != nil
	s.serr, s.rerr, s.fatal, s.claimsDone = nil, nil, false, false
	s.rejects = s.rejects[:0]
	defer func() {
		s.b, s.claims = nil, nil
		clear(s.rejects)
		if cap(s.vals) > 1<<20 {
			s.vals = nil
		}
		e.pool.Put(s)
	}()

	orig := len(dst)
	n := 0
	fail := func(err *RecordError) ([]byte, int, error) { return dst[:orig], 0, err }

	s.ws()
	if s.i >= len(body) {
		return fail(&RecordError{Index: -1, Reason: "empty body: expected a JSON object or an array of objects"})
	}
	switch body[s.i] {
	case '{':
		var ok bool
		dst, ok = s.record(dst, 0)
		if s.serr != nil {
			return fail(s.serr)
		}
		if ok {
			n++
		} else if !s.each || s.fatal {
			return fail(s.rerr)
		}
	case '[':
		s.i++
		s.depth = 1
		s.ws()
		if s.i < len(body) && body[s.i] == ']' {
			s.i++
			break
		}
		for index := 0; ; index++ {
			s.ws()
			if s.i >= len(body) {
				return fail(s.syntax("unexpected end of input in array"))
			}
			if body[s.i] != '{' {
				start := s.i
				if !s.skipValue() {
					return fail(s.serr)
				}
				rerr := &RecordError{Index: index, Reason: "expected a JSON object, got " + s.got(start)}
				if !s.each {
					return fail(rerr)
				}
				s.rejects = append(s.rejects, rejected{index, body[start:s.i], rerr})
			} else {
				var ok bool
				dst, ok = s.record(dst, index)
				if s.serr != nil {
					return fail(s.serr)
				}
				if ok {
					n++
				} else if !s.each || s.fatal {
					return fail(s.rerr)
				}
			}
			s.ws()
			if s.i >= len(body) {
				return fail(s.syntax("unexpected end of input in array"))
			}
			if body[s.i] == ',' {
				s.i++
				continue
			}
			if body[s.i] == ']' {
				s.i++
				break
			}
			return fail(s.syntax("expected ',' or ']' after array element"))
		}
	default:
		start := s.i
		if !s.skipValue() {
			return fail(s.serr)
		}
		return fail(&RecordError{Index: -1, Reason: "body must be a JSON object or an array of objects, got " + s.got(start)})
	}
	s.ws()
	if s.i != len(body) {
		return fail(s.syntax("unexpected data after the JSON value"))
	}
	for _, r := range s.rejects {
		reject(r.index, r.raw, r.err)
	}
	return dst, n, nil
}

// syntax records a syntax error at the current offset.
func (s *state) syntax(msg string) *RecordError {
	return s.syntaxAt(s.i, msg)
}

func (s *state) syntaxAt(off int, msg string) *RecordError {
	if s.serr == nil {
		s.serr = &RecordError{Index: -1, Reason: "invalid JSON at byte offset " + strconv.Itoa(off) + ": " + msg}
	}
	return s.serr
}

func (s *state) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// got is the raw JSON of the (valid) value at off, shortened for messages.
func (s *state) got(off int) string {
	save, saveDepth := s.i, s.depth
	s.i = off
	s.skipValue()
	raw := s.b[off:s.i]
	s.i, s.depth = save, saveDepth
	const max = 64
	if len(raw) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(raw[cut]) {
			cut--
		}
		return string(raw[:cut]) + "…"
	}
	return string(raw)
}

// record scans the object at s.i and appends its row to dst. It returns
// ok = false with s.serr (syntax) or s.rerr (a bad record) set; in
// EncodeEach mode a bad record is scanned to its end and queued as a
// reject.
func (s *state) record(dst []byte, index int) ([]byte, bool) {
	e := s.e
	start := s.i
	s.i++
	s.depth++
	if s.depth > MaxDepth {
		s.syntaxAt(start, "nesting deeper than "+strconv.Itoa(MaxDepth))
		return dst, false
	}
	s.rerr = nil
	for k := range s.spans {
		s.spans[k].start = absent
	}
	s.vals = s.vals[:0]
	if e.allowExtra && len(s.extra) > 0 {
		clear(s.extra)
	}
	next := 0
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
	} else {
		for {
			if s.i >= len(s.b) {
				s.syntax("unexpected end of input in object")
				return dst, false
			}
			if s.b[s.i] != '"' {
				s.syntax("expected a string key or '}'")
				return dst, false
			}
			key, ok := s.key()
			if !ok {
				return dst, false
			}
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				s.syntax("expected ':' after object key")
				return dst, false
			}
			s.i++
			s.ws()
			if s.rerr != nil { // already bad: just scan the rest
				if !s.skipValue() {
					return dst, false
				}
			} else if !s.field(key, index, &next) {
				if s.serr != nil {
					return dst, false
				}
				if !s.each {
					return dst, false
				}
			}
			s.ws()
			if s.i >= len(s.b) {
				s.syntax("unexpected end of input in object")
				return dst, false
			}
			if s.b[s.i] == ',' {
				s.i++
				s.ws()
				continue
			}
			if s.b[s.i] == '}' {
				s.i++
				break
			}
			s.syntax("expected ',' or '}' after object member")
			return dst, false
		}
	}
	s.depth--
	if s.rerr == nil {
		dst = s.finish(dst, index)
	}
	if s.rerr != nil {
		if s.each && !s.fatal {
			s.rejects = append(s.rejects, rejected{index, s.b[start:s.i], s.rerr})
		}
		return dst, false
	}
	return dst, true
}

// key scans an object key at s.i and returns it unescaped.
func (s *state) key() ([]byte, bool) {
	start := s.i
	end, esc, ok := s.scanString(start)
	if !ok {
		return nil, false
	}
	s.i = end
	if !esc {
		return s.b[start+1 : end-1], true
	}
	s.tmp = unescape(s.tmp[:0], s.b[start+1:end-1])
	return s.tmp, true
}

// field handles one member of a record: the value at s.i for key.
func (s *state) field(key []byte, index int, next *int) bool {
	e := s.e
	k := -1
	if n := *next; n < len(e.cols) && string(key) == e.cols[n].name {
		k = n
	} else if j, ok := e.index[string(key)]; ok {
		k = j
	}
	if k < 0 {
		if !e.allowExtra {
			s.rerr = &RecordError{Index: index, Field: string(key),
				Reason: "unknown field (the model has no such column; allow_extra_fields = true drops unknown fields)"}
			return s.skipValue() && false
		}
		if s.extra == nil {
			s.extra = make(map[string]struct{})
		}
		if _, dup := s.extra[string(key)]; dup {
			s.rerr = &RecordError{Index: index, Field: string(key), Reason: "duplicate key"}
			return s.skipValue() && false
		}
		s.extra[string(key)] = struct{}{}
		return s.skipValue()
	}
	*next = k + 1
	c := &e.cols[k]
	if s.spans[k].start != absent {
		s.rerr = &RecordError{Index: index, Field: c.name, Reason: "duplicate key"}
		return s.skipValue() && false
	}
	if c.claim != "" {
		s.rerr = &RecordError{Index: index, Field: c.name,
			Reason: "field is set from the verified token (jwt claim " + c.claim + ") and cannot be sent"}
		return s.skipValue() && false
	}
	vs := len(s.vals)
	if s.i < len(s.b) && s.b[s.i] == 'n' {
		if !s.literal("null") {
			return false
		}
		if !c.nullable {
			s.rerr = &RecordError{Index: index, Field: c.name, Reason: "required field is null"}
			return false
		}
		s.vals = append(s.vals, "null"...)
		s.spans[k] = span{int32(vs), int32(len(s.vals))}
		return true
	}
	fstart, fdepth := s.i, s.depth
	var ok bool
	s.vals, ok = s.value(s.vals, c.t)
	if ok {
		s.spans[k] = span{int32(vs), int32(len(s.vals))}
		return true
	}
	if s.serr != nil {
		return false
	}
	// A value error: the whole value must still be valid JSON, else the
	// syntax error wins.
	s.vals = s.vals[:vs]
	s.i, s.depth = fstart, fdepth
	if !s.skipValue() {
		return false
	}
	s.rerr = &RecordError{Index: index, Field: c.name, Reason: s.vmsg + ", got " + s.got(s.vstart)}
	return false
}

// finish checks absent fields, fills JWT-claim columns and appends the row.
func (s *state) finish(dst []byte, index int) []byte {
	e := s.e
	if e.hasClaims && !s.claimsDone {
		if !s.resolveClaims(index) {
			return dst
		}
	}
	for k := range e.cols {
		c := &e.cols[k]
		if s.spans[k].start == absent && c.claim == "" && !c.nullable {
			s.rerr = &RecordError{Index: index, Field: c.name, Reason: "required field is missing"}
			return dst
		}
	}
	for k := range e.cols {
		c := &e.cols[k]
		dst = append(dst, c.prefix...)
		switch sp := s.spans[k]; {
		case c.claim != "":
			cs := s.claimSpans[k]
			dst = append(dst, s.claimBuf[cs.start:cs.end]...)
		case sp.start == absent:
			dst = append(dst, "null"...)
		default:
			dst = append(dst, s.vals[sp.start:sp.end]...)
		}
	}
	return append(dst, '}', '\n')
}

// resolveClaims encodes every JWT-claim column's value once per call.
func (s *state) resolveClaims(index int) bool {
	e := s.e
	s.claimsDone = true
	s.claimBuf = s.claimBuf[:0]
	if len(s.claimSpans) != len(e.cols) {
		s.claimSpans = make([]span, len(e.cols))
	}
	for k := range e.cols {
		c := &e.cols[k]
		if c.claim == "" {
			continue
		}
		fail := func(reason string) bool {
			s.rerr = &RecordError{Index: index, Field: c.name, Reason: reason}
			s.fatal = true
			return false
		}
		v, ok := s.claims[c.claim]
		if !ok {
			return fail("missing JWT claim " + c.claim)
		}
		start := len(s.claimBuf)
		if v == nil {
			if !c.nullable {
				return fail("JWT claim " + c.claim + " is null")
			}
			s.claimBuf = append(s.claimBuf, "null"...)
			s.claimSpans[k] = span{int32(start), int32(len(s.claimBuf))}
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return fail("JWT claim " + c.claim + ": " + err.Error())
		}
		switch c.t.kind {
		case project.KindString, project.KindLowCardinality:
			if raw[0] != '"' { // a number or boolean claim into a String column: its text
				raw = strconv.AppendQuote(nil, string(raw))
			}
		case project.KindDateTime, project.KindDateTime64:
			f, isNum := v.(float64)
			if jn, ok := v.(json.Number); ok {
				f, err = jn.Float64()
				isNum = err == nil
			}
			if isNum { // NumericDate: seconds since the epoch
				sec, frac := math.Modf(f)
				tm := time.Unix(int64(sec), int64(frac*1e9)).UTC()
				raw = strconv.AppendQuote(nil, tm.Format(time.RFC3339Nano))
			}
		}
		sb, si, sd := s.b, s.i, s.depth
		s.b, s.i, s.depth = raw, 0, 0
		var okv bool
		s.claimBuf, okv = s.value(s.claimBuf, c.t)
		valid := okv && s.i == len(raw)
		msg := s.vmsg
		s.b, s.i, s.depth, s.serr = sb, si, sd, nil
		if !valid {
			return fail("JWT claim " + c.claim + ": " + msg + ", got " + shorten(string(raw)))
		}
		s.claimSpans[k] = span{int32(start), int32(len(s.claimBuf))}
	}
	return true
}

func shorten(s string) string {
	if len(s) <= 64 {
		return s
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// bad records a value error for the value at off.
func (s *state) bad(off int, msg string) bool {
	s.vstart, s.vmsg = off, msg
	return false
}

// value validates the value at s.i against t and appends its canonical
// form to dst. On failure it sets s.serr (syntax) or s.vmsg/s.vstart.
func (s *state) value(dst []byte, t *vtype) ([]byte, bool) {
	if s.i >= len(s.b) {
		s.syntax("unexpected end of input")
		return dst, false
	}
	start := s.i
	c := s.b[start]
	switch t.kind {
	case project.KindString, project.KindLowCardinality:
		if c != '"' {
			return dst, s.bad(start, t.expect)
		}
		end, _, ok := s.scanString(start)
		if !ok {
			return dst, false
		}
		s.i = end
		return append(dst, s.b[start:end]...), true

	case project.KindInt8, project.KindInt16, project.KindInt32, project.KindInt64,
		project.KindUInt8, project.KindUInt16, project.KindUInt32, project.KindUInt64:
		if c != '-' && (c < '0' || c > '9') {
			return dst, s.bad(start, t.expect)
		}
		num, ok := s.scanNumber()
		if !ok {
			return dst, false
		}
		return s.integer(dst, t, num)

	case project.KindFloat32, project.KindFloat64:
		if c != '-' && (c < '0' || c > '9') {
			return dst, s.bad(start, t.expect)
		}
		num, ok := s.scanNumber()
		if !ok {
			return dst, false
		}
		if !s.floatInRange(num, t.kind == project.KindFloat32) {
			return dst, s.bad(start, t.name+" out of range")
		}
		return append(dst, s.b[start:s.i]...), true

	case project.KindBool:
		switch c {
		case 't':
			if !s.literal("true") {
				return dst, false
			}
			if s.e.boolAsInt {
				return append(dst, '1'), true
			}
			return append(dst, "true"...), true
		case 'f':
			if !s.literal("false") {
				return dst, false
			}
			if s.e.boolAsInt {
				return append(dst, '0'), true
			}
			return append(dst, "false"...), true
		}
		return dst, s.bad(start, t.expect)

	case project.KindDate:
		txt, ok := s.stringContent(t)
		if !ok {
			return dst, false
		}
		days, ok := parseDate(txt)
		if !ok {
			return dst, s.bad(start, t.expect)
		}
		if days < 0 || days > 65535 {
			return dst, s.bad(start, "Date out of range 1970-01-01..2149-06-06")
		}
		dst = append(dst, '"')
		dst = append(dst, txt...)
		return append(dst, '"'), true

	case project.KindDateTime, project.KindDateTime64:
		txt, ok := s.stringContent(t)
		if !ok {
			return dst, false
		}
		secs, nanos, ok := parseDateTime(txt)
		if !ok {
			return dst, s.bad(start, t.expect)
		}
		if t.kind == project.KindDateTime {
			if secs < 0 || secs > math.MaxUint32 {
				return dst, s.bad(start, "DateTime out of range 1970-01-01 00:00:00..2106-02-07 06:28:15 (UTC)")
			}
		} else if secs < minDateTime64 || secs > maxDateTime64 {
			return dst, s.bad(start, t.name+" out of range 1900-01-01 00:00:00..2299-12-31 23:59:59 (UTC)")
		}
		return appendDateTime(dst, secs, nanos, t.prec, t.kind == project.KindDateTime64), true

	case project.KindUUID:
		txt, ok := s.stringContent(t)
		if !ok {
			return dst, false
		}
		if !project.IsUUID(txt) {
			return dst, s.bad(start, t.expect)
		}
		dst = append(dst, '"')
		for _, b := range txt {
			if b >= 'A' && b <= 'F' {
				b += 'a' - 'A'
			}
			dst = append(dst, b)
		}
		return append(dst, '"'), true

	case project.KindDecimal:
		var num number
		switch {
		case c == '"':
			txt, ok := s.stringContent(t)
			if !ok {
				return dst, false
			}
			var valid bool
			num, valid = parseNumber(txt, true)
			if !valid {
				return dst, s.bad(start, t.expect)
			}
		case c == '-' || c >= '0' && c <= '9':
			var ok bool
			num, ok = s.scanNumber()
			if !ok {
				return dst, false
			}
		default:
			return dst, s.bad(start, t.expect)
		}
		return s.decimal(dst, t, num, start)

	case project.KindArray:
		if c != '[' {
			return dst, s.bad(start, t.expect)
		}
		s.i++
		s.depth++
		if s.depth > MaxDepth {
			s.syntaxAt(start, "nesting deeper than "+strconv.Itoa(MaxDepth))
			return dst, false
		}
		dst = append(dst, '[')
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			s.depth--
			return append(dst, ']'), true
		}
		for n := 0; ; n++ {
			if n > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			dst, ok = s.value(dst, t.elem)
			if !ok {
				if s.serr == nil {
					s.vmsg = "element " + strconv.Itoa(n) + ": " + s.vmsg
				}
				return dst, false
			}
			s.ws()
			if s.i >= len(s.b) {
				s.syntax("unexpected end of input in array")
				return dst, false
			}
			if s.b[s.i] == ',' {
				s.i++
				s.ws()
				continue
			}
			if s.b[s.i] == ']' {
				s.i++
				s.depth--
				return append(dst, ']'), true
			}
			s.syntax("expected ',' or ']' after array element")
			return dst, false
		}
	}
	return dst, s.bad(start, "unsupported type "+t.name)
}

// stringContent scans a JSON string at s.i and returns its unescaped
// content (a sub-slice of the body when it has no escapes).
func (s *state) stringContent(t *vtype) ([]byte, bool) {
	start := s.i
	if s.b[start] != '"' {
		return nil, s.bad(start, t.expect)
	}
	end, esc, ok := s.scanString(start)
	if !ok {
		return nil, false
	}
	s.i = end
	if !esc {
		return s.b[start+1 : end-1], true
	}
	s.tmp = unescape(s.tmp[:0], s.b[start+1:end-1])
	return s.tmp, true
}

func (s *state) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		s.syntax("invalid literal (expected " + lit + ")")
		return false
	}
	s.i += len(lit)
	return true
}

// skipValue validates the value at s.i and moves past it.
func (s *state) skipValue() bool {
	if s.i >= len(s.b) {
		s.syntax("unexpected end of input")
		return false
	}
	switch c := s.b[s.i]; c {
	case '"':
		end, _, ok := s.scanString(s.i)
		if ok {
			s.i = end
		}
		return ok
	case '{', '[':
		start := s.i
		s.i++
		s.depth++
		if s.depth > MaxDepth {
			s.syntaxAt(start, "nesting deeper than "+strconv.Itoa(MaxDepth))
			return false
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == closer {
			s.i++
			s.depth--
			return true
		}
		for {
			if c == '{' {
				if s.i >= len(s.b) || s.b[s.i] != '"' {
					s.syntax("expected a string key")
					return false
				}
				end, _, ok := s.scanString(s.i)
				if !ok {
					return false
				}
				s.i = end
				s.ws()
				if s.i >= len(s.b) || s.b[s.i] != ':' {
					s.syntax("expected ':' after object key")
					return false
				}
				s.i++
				s.ws()
			}
			if !s.skipValue() {
				return false
			}
			s.ws()
			if s.i >= len(s.b) {
				s.syntax("unexpected end of input")
				return false
			}
			if s.b[s.i] == ',' {
				s.i++
				s.ws()
				continue
			}
			if s.b[s.i] == closer {
				s.i++
				s.depth--
				return true
			}
			s.syntax("expected ',' or '" + string(closer) + "'")
			return false
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		if c == '-' || c >= '0' && c <= '9' {
			_, ok := s.scanNumber()
			return ok
		}
		if c < utf8.RuneSelf && c >= 0x20 {
			s.syntax("unexpected character " + strconv.QuoteRune(rune(c)))
		} else {
			s.syntax(fmt.Sprintf("unexpected byte 0x%02x", c))
		}
		return false
	}
}

// strSafe marks the bytes a JSON string may hold unescaped and that need no
// further check: printable ASCII other than '"' and '\\'.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString validates the JSON string starting at start (s.b[start] ==
// '"'): escapes, UTF-8, no control characters, no lone surrogates. It
// returns the offset just past the closing quote and whether the string
// has escapes.
func (s *state) scanString(start int) (end int, esc, ok bool) {
	b := s.b
	i := start + 1
	for {
		// Fast path: runs of plain ASCII, eight bytes per step.
		for i+8 <= len(b) && strSafe[b[i]] && strSafe[b[i+1]] && strSafe[b[i+2]] && strSafe[b[i+3]] &&
			strSafe[b[i+4]] && strSafe[b[i+5]] && strSafe[b[i+6]] && strSafe[b[i+7]] {
			i += 8
		}
		for i < len(b) && strSafe[b[i]] {
			i++
		}
		if i >= len(b) {
			s.syntaxAt(start, "unterminated string")
			return 0, false, false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc, true
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				s.syntaxAt(start, "unterminated string")
				return 0, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, ok := hex4(b, i+2)
				if !ok {
					s.syntaxAt(i, `invalid \u escape`)
					return 0, false, false
				}
				i += 6
				if r >= 0xD800 && r < 0xDC00 {
					r2, ok := rune(0), false
					if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						r2, ok = hex4(b, i+2)
					}
					if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
						s.syntaxAt(i-6, `lone surrogate in \u escape`)
						return 0, false, false
					}
					i += 6
				} else if r >= 0xDC00 && r <= 0xDFFF {
					s.syntaxAt(i-6, `lone surrogate in \u escape`)
					return 0, false, false
				}
			default:
				s.syntaxAt(i, "invalid escape in string")
				return 0, false, false
			}
		case c < 0x20:
			s.syntaxAt(i, "control character in string (must be escaped)")
			return 0, false, false
		default: // >= 0x80
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				s.syntaxAt(i, "invalid UTF-8 in string")
				return 0, false, false
			}
			i += size
		}
	}
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescape appends the content of a valid JSON string (between the
// quotes) to dst with escapes decoded.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(s, i+2)
			i += 6
			if r >= 0xD800 && r < 0xDC00 {
				r2, _ := hex4(s, i+2)
				r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

// number is a scanned JSON number: offsets into the text it came from.
type number struct {
	neg            bool
	start, end     int // the whole token
	int0, int1     int // integer digits
	frac0, frac1   int // fraction digits (frac0 == frac1: none)
	exp            int // exponent value, clamped to ±100000
	hasFrac, hasEx bool
	text           []byte
}

// scanNumber scans a JSON number at s.i (strict grammar).
func (s *state) scanNumber() (number, bool) {
	n, ok := parseNumberAt(s.b, s.i, false)
	if !ok {
		s.syntaxAt(n.end, "invalid number")
		return n, false
	}
	s.i = n.end
	return n, true
}

// parseNumber parses all of txt as a number (Decimal strings); leading
// zeros are allowed when lenient.
func parseNumber(txt []byte, lenient bool) (number, bool) {
	n, ok := parseNumberAt(txt, 0, lenient)
	return n, ok && n.end == len(txt)
}

func parseNumberAt(b []byte, i int, lenient bool) (number, bool) {
	n := number{start: i, text: b}
	if i < len(b) && b[i] == '-' {
		n.neg = true
		i++
	}
	n.int0 = i
	if i < len(b) && b[i] == '0' && !lenient {
		i++
	} else {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	n.int1 = i
	if n.int0 == n.int1 {
		n.end = i
		return n, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		n.hasFrac = true
		n.frac0 = i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		n.frac1 = i
		if n.frac0 == n.frac1 {
			n.end = i
			return n, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		n.hasEx = true
		neg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			neg = b[i] == '-'
			i++
		}
		j := i
		e := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if e < 100000 {
				e = e*10 + int(b[i]-'0')
			}
			i++
		}
		if i == j {
			n.end = i
			return n, false
		}
		if neg {
			e = -e
		}
		n.exp = e
	}
	n.end = i
	return n, true
}

// digits puts the number's significant digits into s.dig and returns the
// position of the decimal point relative to them (digits before it).
// Leading and trailing zeros are dropped; zero has no digits.
func (s *state) digits(n number) int {
	d := append(s.dig[:0], n.text[n.int0:n.int1]...)
	d = append(d, n.text[n.frac0:n.frac1]...)
	point := n.int1 - n.int0 + n.exp
	lead := 0
	for lead < len(d) && d[lead] == '0' {
		lead++
	}
	d = d[lead:]
	point -= lead
	for len(d) > 0 && d[len(d)-1] == '0' {
		d = d[:len(d)-1]
	}
	s.dig = d
	return point
}

func (s *state) integer(dst []byte, t *vtype, n number) ([]byte, bool) {
	limit := t.posMax
	if n.neg {
		limit = t.negMax
	}
	if !n.hasFrac && !n.hasEx {
		ds := n.text[n.int0:n.int1]
		if len(ds) > 20 {
			return dst, s.bad(n.start, t.expect)
		}
		var v uint64
		for _, c := range ds {
			d := uint64(c - '0')
			if v > (math.MaxUint64-d)/10 {
				return dst, s.bad(n.start, t.expect)
			}
			v = v*10 + d
		}
		if v > limit {
			return dst, s.bad(n.start, t.expect)
		}
		if n.neg && v == 0 {
			return append(dst, '0'), true
		}
		return append(dst, n.text[n.start:n.end]...), true
	}
	point := s.digits(n)
	if len(s.dig) == 0 {
		return append(dst, '0'), true
	}
	if point < len(s.dig) || point > 20 {
		if point < len(s.dig) {
			return dst, s.bad(n.start, t.expect+": not an integer")
		}
		return dst, s.bad(n.start, t.expect)
	}
	var v uint64
	for k := 0; k < point; k++ {
		d := uint64(0)
		if k < len(s.dig) {
			d = uint64(s.dig[k] - '0')
		}
		if v > (math.MaxUint64-d)/10 {
			return dst, s.bad(n.start, t.expect)
		}
		v = v*10 + d
	}
	if v > limit {
		return dst, s.bad(n.start, t.expect)
	}
	if n.neg {
		dst = append(dst, '-')
	}
	return strconv.AppendUint(dst, v, 10), true
}

// floatInRange reports whether the number is finite as a Float32/Float64.
func (s *state) floatInRange(n number, f32 bool) bool {
	safe, overflow := 308, 310
	if f32 {
		safe, overflow = 38, 40
	}
	if !n.hasEx && n.int1-n.int0 <= safe {
		return true
	}
	point := s.digits(n)
	if len(s.dig) == 0 || point <= safe {
		return true
	}
	if point >= overflow {
		return false
	}
	bits := 64
	if f32 {
		bits = 32
	}
	_, err := strconv.ParseFloat(string(n.text[n.start:n.end]), bits)
	return err == nil
}

func (s *state) decimal(dst []byte, t *vtype, n number, start int) ([]byte, bool) {
	point := s.digits(n)
	d := s.dig
	if len(d) == 0 {
		return append(dst, '0'), true
	}
	if max(point, 0) > t.maxIntDigit {
		return dst, s.bad(start, t.expect+": too many integer digits")
	}
	if max(len(d)-point, 0) > t.scale {
		return dst, s.bad(start, t.expect+": too many fraction digits")
	}
	if n.neg {
		dst = append(dst, '-')
	}
	switch {
	case point <= 0:
		dst = append(dst, '0', '.')
		for k := point; k < 0; k++ {
			dst = append(dst, '0')
		}
		dst = append(dst, d...)
	case point >= len(d):
		dst = append(dst, d...)
		for k := len(d); k < point; k++ {
			dst = append(dst, '0')
		}
	default:
		dst = append(dst, d[:point]...)
		dst = append(dst, '.')
		dst = append(dst, d[point:]...)
	}
	return dst, true
}

// DateTime64 range (ClickHouse): 1900-01-01 00:00:00 .. 2299-12-31 23:59:59.
var (
	minDateTime64 = daysFromCivil(1900, 1, 1) * 86400
	maxDateTime64 = daysFromCivil(2299, 12, 31)*86400 + 86399
)

// daysFromCivil is the number of days since 1970-01-01 (proleptic
// Gregorian; Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func num2(b []byte) (int64, bool) {
	if b[0] < '0' || b[0] > '9' || b[1] < '0' || b[1] > '9' {
		return 0, false
	}
	return int64(b[0]-'0')*10 + int64(b[1]-'0'), true
}

// parseDate parses "YYYY-MM-DD" into days since 1970-01-01.
func parseDate(b []byte) (int64, bool) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	hi, ok1 := num2(b[0:2])
	lo, ok2 := num2(b[2:4])
	m, ok3 := num2(b[5:7])
	d, ok4 := num2(b[8:10])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, false
	}
	y := hi*100 + lo
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseDateTime parses RFC 3339 ("2024-01-02T03:04:05.123+02:00", 'T' or
// 't' or ' ', offset "Z", "z" or ±hh:mm) and "YYYY-MM-DD hh:mm:ss[.fff]"
// without an offset (taken as UTC). Fractional digits beyond 9 are
// dropped. It returns UTC seconds since the epoch and nanoseconds.
func parseDateTime(b []byte) (secs int64, nanos int64, ok bool) {
	if len(b) < 19 {
		return 0, 0, false
	}
	days, ok := parseDate(b[:10])
	if !ok || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return 0, 0, false
	}
	h, ok1 := num2(b[11:13])
	mi, ok2 := num2(b[14:16])
	se, ok3 := num2(b[17:19])
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || se > 59 {
		return 0, 0, false
	}
	i := 19
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		scale := int64(100000000)
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			nanos += int64(b[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == j {
			return 0, 0, false
		}
	}
	var off int64
	if i < len(b) {
		switch b[i] {
		case 'Z', 'z':
			i++
		case '+', '-':
			if len(b)-i != 6 || b[i+3] != ':' {
				return 0, 0, false
			}
			oh, ok1 := num2(b[i+1 : i+3])
			om, ok2 := num2(b[i+4 : i+6])
			if !ok1 || !ok2 || oh > 23 || om > 59 {
				return 0, 0, false
			}
			off = oh*3600 + om*60
			if b[i] == '-' {
				off = -off
			}
			i += 6
		default:
			return 0, 0, false
		}
	}
	if i != len(b) {
		return 0, 0, false
	}
	return days*86400 + h*3600 + mi*60 + se - off, nanos, true
}

// appendDateTime writes "YYYY-MM-DD hh:mm:ss" (with prec fractional
// digits when frac) as a JSON string.
func appendDateTime(dst []byte, secs, nanos int64, prec int, frac bool) []byte {
	days := secs / 86400
	rem := secs % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d := civilFromDays(days)
	dst = append(dst, '"',
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10), ' ',
		byte('0'+rem/36000), byte('0'+rem/3600%10), ':',
		byte('0'+rem%3600/600), byte('0'+rem%3600/60%10), ':',
		byte('0'+rem%60/10), byte('0'+rem%10))
	if frac && prec > 0 {
		dst = append(dst, '.')
		div := int64(100000000)
		for k := 0; k < prec; k++ {
			dst = append(dst, byte('0'+nanos/div%10))
			div /= 10
		}
	}
	return append(dst, '"')
}
