package server

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/moose-go/moose/internal/admin"
	"github.com/moose-go/moose/internal/olap"
)

// mapTable keeps every infrastructure map the server has run, so a restart
// comes back with the last one (even one applied remotely).
var mapTable = olap.Table{Name: "_moose_infra_map", OrderBy: []string{"seq"}, Columns: []olap.Column{
	{Name: "seq", Type: "UInt64"},
	{Name: "applied_at", Type: "DateTime"},
	{Name: "files_digest", Type: "String"},
	{Name: "map", Type: "String"},
}}

func (s *Server) ensureMapTable(ctx context.Context) error {
	return s.store.Apply(ctx, []olap.Change{{Kind: olap.CreateTable, Table: mapTable}})
}

// loadMap returns the last stored map and the digest of the project files
// it was derived from (or what they were when it was applied); nil if none.
func (s *Server) loadMap(ctx context.Context) (json.RawMessage, string, error) {
	res, err := s.store.Query(ctx, "SELECT map, files_digest FROM _moose_infra_map ORDER BY seq DESC LIMIT 1", nil)
	if err != nil {
		return nil, "", fmt.Errorf("reading the stored infrastructure map: %w", err)
	}
	if len(res.Rows) == 0 {
		return nil, "", nil
	}
	var m, digest string
	if err := json.Unmarshal(res.Rows[0][0], &m); err != nil {
		return nil, "", fmt.Errorf("reading the stored infrastructure map: %w", err)
	}
	if err := json.Unmarshal(res.Rows[0][1], &digest); err != nil {
		return nil, "", fmt.Errorf("reading the stored infrastructure map: %w", err)
	}
	return json.RawMessage(m), digest, nil
}

// saveMap appends m to the map table.
func (s *Server) saveMap(ctx context.Context, m *admin.InfraMap, filesDigest string) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	row, _ := json.Marshal(map[string]any{
		"seq": now.UnixNano(), "applied_at": now.Format("2006-01-02 15:04:05"),
		"files_digest": filesDigest, "map": string(b),
	})
	return s.store.Insert(ctx, mapTable.Name, append(row, '\n'))
}
