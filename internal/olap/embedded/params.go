package embedded

import (
	"fmt"
	"math"
	"strings"

	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/chsql"
)

// paramText renders a parameter for chdb_query_with_params_n. The engine
// parses values as escaped (TSV) text, so they go through
// chsql.Modern.ParamText (pitfall 4). The engine also wraps out-of-range
// integers silently (UInt8 300 became 44), so integer values are range
// checked here first.
func paramText(p olap.Param) (string, error) {
	if err := checkRange(p.Type, p.Value); err != nil {
		return "", fmt.Errorf("%w: param %s: %w", olap.ErrBadQuery, p.Name, err)
	}
	s, err := chsql.Modern.ParamText(p)
	if err != nil {
		return "", fmt.Errorf("%w: %w", olap.ErrBadQuery, err)
	}
	return s, nil
}

var intRanges = map[string]struct {
	min int64
	max uint64
}{
	"Int8": {math.MinInt8, math.MaxInt8}, "Int16": {math.MinInt16, math.MaxInt16},
	"Int32": {math.MinInt32, math.MaxInt32}, "Int64": {math.MinInt64, math.MaxInt64},
	"UInt8": {0, math.MaxUint8}, "UInt16": {0, math.MaxUint16},
	"UInt32": {0, math.MaxUint32}, "UInt64": {0, math.MaxUint64},
}

func checkRange(typ string, v any) error {
	if v == nil {
		return nil
	}
	if inner, ok := unwrap(typ, "Nullable"); ok {
		typ = inner
	}
	if elem, ok := unwrap(typ, "Array"); ok {
		vs, ok := v.([]any)
		if !ok {
			return nil // ParamText reports the shape error
		}
		for _, e := range vs {
			if err := checkRange(elem, e); err != nil {
				return err
			}
		}
		return nil
	}
	r, ok := intRanges[strings.TrimSpace(typ)]
	if !ok {
		return nil
	}
	switch x := v.(type) {
	case int64:
		if x < r.min || (x > 0 && uint64(x) > r.max) {
			return fmt.Errorf("%d is out of range for %s", x, typ)
		}
	case int:
		return checkRange(typ, int64(x))
	case uint64:
		if x > r.max {
			return fmt.Errorf("%d is out of range for %s", x, typ)
		}
	case float64:
		return fmt.Errorf("%v is not an integer value for %s", x, typ)
	}
	return nil
}
