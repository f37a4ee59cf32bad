package dbify

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

func projectPath(projectID string, rest ...string) string {
	path := "/projects/" + url.PathEscape(projectID)
	for _, part := range rest {
		path += "/" + url.PathEscape(part)
	}
	return path
}

// QueryParameter is a saved query's :name parameter. Type defaults to "text"; a nil
// Required means required; Default is the value (as text) used when none is given.
type QueryParameter struct {
	Name        string  `json:"name"`
	Type        string  `json:"type,omitempty"`
	Required    *bool   `json:"required,omitempty"`
	Default     *string `json:"default,omitempty"`
	Description string  `json:"description,omitempty"`
}

// SavedQueryCreate describes a saved query: one SELECT with :name parameters.
type SavedQueryCreate struct {
	Name        string           `json:"name"` // the URL segment: …/rest/v1/q/{name}
	SQL         string           `json:"sql"`
	Parameters  []QueryParameter `json:"parameters,omitempty"`
	Description string           `json:"description,omitempty"`
	RunAsRole   string           `json:"run_as_role,omitempty"` // default: the caller's role
	TimeoutMS   int              `json:"timeout_ms,omitempty"`  // default: the project's
}

// ResultColumn is one output column of a saved query, as PREPARE described it.
type ResultColumn struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Category string `json:"category"`
}

// SavedQuery is a saved query as the management API returns it.
type SavedQuery struct {
	ID          string           `json:"id"`
	ProjectID   string           `json:"project_id"`
	Name        string           `json:"name"`
	Description string           `json:"description"`
	SQL         string           `json:"sql"`
	Parameters  []QueryParameter `json:"parameters"`
	RunAsRole   *string          `json:"run_as_role"`
	TimeoutMS   *int             `json:"timeout_ms"`
	Columns     []ResultColumn   `json:"columns"`
	URL         string           `json:"url"`
	CreatedAt   time.Time        `json:"created_at"`
	UpdatedAt   time.Time        `json:"updated_at"`
}

// CreateSavedQuery saves a query (checked and PREPAREd by the server); call it with
// Client.Query.
func (m *Management) CreateSavedQuery(ctx context.Context, projectID string, query SavedQueryCreate) (*SavedQuery, error) {
	var saved SavedQuery
	if err := m.call(ctx, http.MethodPost, projectPath(projectID, "queries"), nil, query, &saved); err != nil {
		return nil, err
	}
	return &saved, nil
}

func (m *Management) ListSavedQueries(ctx context.Context, projectID string) ([]SavedQuery, error) {
	var queries []SavedQuery
	err := m.call(ctx, http.MethodGet, projectPath(projectID, "queries"), nil, nil, &queries)
	return queries, err
}

func (m *Management) GetSavedQuery(ctx context.Context, projectID, name string) (*SavedQuery, error) {
	var saved SavedQuery
	if err := m.call(ctx, http.MethodGet, projectPath(projectID, "queries", name), nil, nil, &saved); err != nil {
		return nil, err
	}
	return &saved, nil
}

func (m *Management) DeleteSavedQuery(ctx context.Context, projectID, name string) error {
	return m.call(ctx, http.MethodDelete, projectPath(projectID, "queries", name), nil, nil, nil)
}

// SearchIndexCreate enables search on one table. Schema defaults to "public"; the call
// waits until the backfill is done unless Background is set.
type SearchIndexCreate struct {
	Table         string             `json:"table"`
	Schema        string             `json:"schema,omitempty"`
	TextColumns   map[string]float64 `json:"text_columns"` // column -> weight
	ReturnColumns []string           `json:"return_columns,omitempty"`
	Semantic      bool               `json:"semantic,omitempty"` // also embed rows for semantic|hybrid
	Background    bool               `json:"-"`
}

// SearchIndex is a search index with its build status.
type SearchIndex struct {
	ID            string             `json:"id"`
	ProjectID     string             `json:"project_id"`
	Schema        string             `json:"schema"`
	Table         string             `json:"table"`
	KeyColumn     string             `json:"key_column"`
	TextColumns   map[string]float64 `json:"text_columns"`
	ReturnColumns []string           `json:"return_columns"`
	Semantic      bool               `json:"semantic"`
	State         string             `json:"state"` // building, ready or failed
	RowsIndexed   int64              `json:"rows_indexed"`
	LastError     *string            `json:"last_error"`
	CreatedAt     time.Time          `json:"created_at"`
	IndexedAt     *time.Time         `json:"indexed_at"`
	LagSeconds    *float64           `json:"lag_seconds"`
}

// CreateSearchIndex enables search on a table and builds the index; an existing index on
// the table is a 409 *Error.
func (m *Management) CreateSearchIndex(ctx context.Context, projectID string, index SearchIndexCreate) (*SearchIndex, error) {
	params := url.Values{}
	if !index.Background {
		params.Set("wait", "true")
	}
	if index.Schema == "" {
		index.Schema = "public"
	}
	var made SearchIndex
	if err := m.call(ctx, http.MethodPost, projectPath(projectID, "search-indexes"), params, index, &made); err != nil {
		return nil, err
	}
	return &made, nil
}

func (m *Management) ListSearchIndexes(ctx context.Context, projectID string) ([]SearchIndex, error) {
	var indexes []SearchIndex
	err := m.call(ctx, http.MethodGet, projectPath(projectID, "search-indexes"), nil, nil, &indexes)
	return indexes, err
}

func (m *Management) DeleteSearchIndex(ctx context.Context, projectID, indexID string) error {
	return m.call(ctx, http.MethodDelete, projectPath(projectID, "search-indexes", indexID), nil, nil, nil)
}
