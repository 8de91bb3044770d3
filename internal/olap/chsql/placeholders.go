package chsql

import (
	"fmt"
	"strings"
)

// Placeholder is one {name:Type} occurrence in SQL text.
type Placeholder struct {
	Name, Type string
	Start, End int // byte offsets of '{' and one past '}'
}

// Placeholders finds every {name:Type} outside string literals, quoted
// identifiers and comments, in order.
func Placeholders(sql string) ([]Placeholder, error) {
	var out []Placeholder
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j, err := skipQuoted(sql, i)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '-' && strings.HasPrefix(sql[i:], "--"), c == '#' && strings.HasPrefix(sql[i:], "#!"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return out, nil
			}
			i += j + 1
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("unterminated comment at byte %d", i)
			}
			i += j + 4
		case c == '{':
			j := strings.IndexByte(sql[i:], '}')
			if j < 0 {
				return nil, fmt.Errorf("unterminated placeholder at byte %d", i)
			}
			body := sql[i+1 : i+j]
			name, typ, ok := strings.Cut(body, ":")
			name, typ = strings.TrimSpace(name), strings.TrimSpace(typ)
			if !ok || name == "" || typ == "" {
				return nil, fmt.Errorf("bad placeholder %q at byte %d: want {name:Type}", sql[i:i+j+1], i)
			}
			out = append(out, Placeholder{Name: name, Type: typ, Start: i, End: i + j + 1})
			i += j + 1
		default:
			i++
		}
	}
	return out, nil
}

func skipQuoted(sql string, i int) (int, error) {
	q := sql[i]
	for j := i + 1; j < len(sql); j++ {
		switch sql[j] {
		case '\\':
			j++
		case q:
			if j+1 < len(sql) && sql[j+1] == q { // doubled quote
				j++
				continue
			}
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated quote at byte %d", i)
}

// Render replaces every placeholder with the literal of the value that
// lookup returns for its name. It works on the original text in one pass,
// so literal text can never form a new placeholder.
func Render(sql string, lookup func(name, typ string) (string, error)) (string, error) {
	ps, err := Placeholders(sql)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	last := 0
	for _, p := range ps {
		lit, err := lookup(p.Name, p.Type)
		if err != nil {
			return "", err
		}
		b.WriteString(sql[last:p.Start])
		b.WriteString(lit)
		last = p.End
	}
	b.WriteString(sql[last:])
	return b.String(), nil
}
