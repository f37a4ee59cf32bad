package dbify

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// SearchOptions tune Search; zero values take the server's defaults.
type SearchOptions struct {
	Mode   string // "text" (BM25, the default), "semantic" or "hybrid"
	Limit  int    // hits per page; 0: the server's default (20)
	Offset int
}

// SearchPage is a page of search hits; decode one with Into(ctx, &page).
type SearchPage[Row any] struct {
	Mode    string           `json:"mode"`
	Offset  int              `json:"offset"`
	Limit   int              `json:"limit"`
	HasMore bool             `json:"has_more"`
	Items   []SearchHit[Row] `json:"items"`
}

// SearchHit is one ranked row with its score and highlighted fragments per column.
type SearchHit[Row any] struct {
	Row        Row               `json:"row"`
	Score      float64           `json:"score"`
	Highlights map[string]string `json:"highlights"`
}

// Search ranks a table's rows against q through its search index (GET …/search/v1/{table},
// beside the REST URL). Filters added to the returned Query narrow the hits and Select
// picks the columns each hit returns; the answer decodes into a SearchPage.
func (c *Client) Search(table, q string, opts *SearchOptions) *Query {
	o := SearchOptions{}
	if opts != nil {
		o = *opts
	}
	if o.Mode == "" {
		o.Mode = "text"
	}
	search := *c
	search.base = strings.TrimSuffix(c.base, "/rest/v1") + "/search/v1"
	query := &Query{client: &search, method: http.MethodGet, path: "/" + url.PathEscape(table), params: url.Values{}, headers: http.Header{}}
	query.params.Set("q", q)
	query.params.Set("mode", o.Mode)
	if o.Limit > 0 {
		query.params.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Offset > 0 {
		query.params.Set("offset", strconv.Itoa(o.Offset))
	}
	return query
}
