package clickhouse

import (
	"testing"

	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/olaptest"
)

// TestContract runs the shared olap contract suite against the server, once
// with the path the server's version selects and, on servers that bind
// parameters, once more with literals forced.
func TestContract(t *testing.T) {
	probe := openStore(t)
	opts := olaptest.RunOptions{Legacy: probe.Dialect().Legacy}
	t.Run("default", func(t *testing.T) {
		olaptest.Run(t, func(t *testing.T) olap.Store { return openStore(t) }, opts)
	})
	if probe.useParams {
		t.Run("literals", func(t *testing.T) {
			olaptest.Run(t, func(t *testing.T) olap.Store {
				return openStore(t, func(o *Options) { o.forceLiterals = true })
			}, opts)
		})
	}
}
