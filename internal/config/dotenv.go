package config

import (
	"bytes"
	"fmt"
	"strings"
)

// parseDotenv reads a .env file. The accepted syntax, one entry per line:
//
//	# a comment
//	KEY=value            # unquoted: trimmed; " #" starts a comment
//	export KEY=value     # "export " is allowed and ignored
//	KEY='literal'        # single quotes: no escapes, may span lines
//	KEY="a\nb"           # double quotes: \n \r \t \" \\ \$ escapes, may span lines
//
// Keys are [A-Za-z_][A-Za-z0-9_.-]*. There is no ${VAR} expansion. A later
// entry for the same key wins. Errors name the line, never a value.
func parseDotenv(data []byte) ([]envVar, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	src := strings.ReplaceAll(string(data), "\r\n", "\n")
	p := dotenvParser{src: src, line: 1}
	var vars []envVar
	for {
		p.skipBlank()
		if p.eof() {
			return vars, nil
		}
		switch p.peek() {
		case '\n':
			p.next()
			continue
		case '#':
			p.skipLine()
			continue
		}
		v, err := p.entry()
		if err != nil {
			return nil, err
		}
		vars = append(vars, v)
	}
}

type dotenvParser struct {
	src  string
	pos  int
	line int
}

func (p *dotenvParser) eof() bool  { return p.pos >= len(p.src) }
func (p *dotenvParser) peek() byte { return p.src[p.pos] }

func (p *dotenvParser) next() byte {
	c := p.src[p.pos]
	p.pos++
	if c == '\n' {
		p.line++
	}
	return c
}

// skipBlank skips spaces and tabs, not newlines.
func (p *dotenvParser) skipBlank() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t') {
		p.pos++
	}
}

// skipLine skips to just after the next newline.
func (p *dotenvParser) skipLine() {
	for !p.eof() && p.next() != '\n' {
	}
}

func (p *dotenvParser) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("line %d: "+format, append([]any{line}, args...)...)
}

// entry parses KEY=VALUE starting at a non-blank, non-comment character.
func (p *dotenvParser) entry() (envVar, error) {
	start := p.line
	if rest := p.src[p.pos:]; strings.HasPrefix(rest, "export") && len(rest) > 6 && (rest[6] == ' ' || rest[6] == '\t') {
		p.pos += 6
		p.skipBlank()
	}
	k0 := p.pos
	for !p.eof() && isKeyByte(p.peek(), p.pos == k0) {
		p.pos++
	}
	key := p.src[k0:p.pos]
	p.skipBlank()
	if key == "" || p.eof() || p.peek() != '=' {
		return envVar{}, p.errorf(start, "expected KEY=VALUE with KEY made of letters, digits and _")
	}
	p.pos++ // '='
	p.skipBlank()
	if p.eof() || p.peek() == '\n' {
		return envVar{name: key}, nil
	}
	var (
		value string
		err   error
	)
	switch p.peek() {
	case '"':
		value, err = p.doubleQuoted(start, key)
	case '\'':
		value, err = p.singleQuoted(start, key)
	default:
		return envVar{name: key, value: p.unquoted()}, nil
	}
	if err != nil {
		return envVar{}, err
	}
	p.skipBlank()
	if !p.eof() && p.peek() != '\n' && p.peek() != '#' {
		return envVar{}, p.errorf(p.line, "%s: unexpected text after the closing quote", key)
	}
	p.skipLine()
	return envVar{name: key, value: value}, nil
}

func isKeyByte(c byte, first bool) bool {
	switch {
	case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		return true
	case '0' <= c && c <= '9', c == '.', c == '-':
		return !first
	}
	return false
}

// unquoted reads to the end of the line, stopping at a comment that follows
// whitespace, and trims the result.
func (p *dotenvParser) unquoted() string {
	v0 := p.pos
	end := -1
	for !p.eof() && p.peek() != '\n' {
		if p.peek() == '#' && (p.src[p.pos-1] == ' ' || p.src[p.pos-1] == '\t') {
			end = p.pos
			break
		}
		p.pos++
	}
	if end < 0 {
		end = p.pos
	}
	value := strings.TrimRight(p.src[v0:end], " \t")
	p.skipLine()
	return value
}

func (p *dotenvParser) singleQuoted(start int, key string) (string, error) {
	p.next() // opening quote
	i := strings.IndexByte(p.src[p.pos:], '\'')
	if i < 0 {
		return "", p.errorf(start, "%s: unterminated single-quoted value", key)
	}
	value := p.src[p.pos : p.pos+i]
	p.line += strings.Count(value, "\n")
	p.pos += i + 1
	return value, nil
}

func (p *dotenvParser) doubleQuoted(start int, key string) (string, error) {
	p.next() // opening quote
	var b strings.Builder
	for !p.eof() {
		c := p.next()
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if p.eof() {
				continue // reported as unterminated below
			}
			switch e := p.next(); e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '"', '\\', '$':
				b.WriteByte(e)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errorf(start, "%s: unterminated double-quoted value", key)
}
