package dbify

// Runs against a real Dbify started by tests/sdks/test_sdks.py (DBIFY_TEST_* variables).

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func server(t *testing.T) *Client {
	rest := os.Getenv("DBIFY_TEST_REST_URL")
	if rest == "" {
		t.Skip("needs DBIFY_TEST_REST_URL (run through tests/sdks)")
	}
	return NewClient(rest, os.Getenv("DBIFY_TEST_SERVICE_KEY"), nil)
}

type book struct {
	ID     int    `json:"id"`
	Title  string `json:"title"`
	Author *struct {
		Name string `json:"name"`
	} `json:"author"`
}

func ids(rows []book) []int {
	out := make([]int, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

func equal(t *testing.T, got, want any) {
	t.Helper()
	if g, w := strings.TrimSpace(toJSON(got)), strings.TrimSpace(toJSON(want)); g != w {
		t.Fatalf("got %s, want %s", g, w)
	}
}

func toJSON(v any) string { return literal(v) }

func TestSelect(t *testing.T) {
	c, ctx := server(t), context.Background()
	var rows []book
	res, err := c.From("books").Select("id,title,author:authors(name)", "exact").Gte("id", 10).Lt("id", 20).
		Order("id", false).Range(0, 2).Into(ctx, &rows)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, ids(rows), []int{19, 18, 17})
	if rows[0].Author == nil || !strings.HasPrefix(rows[0].Author.Name, "Author") {
		t.Fatalf("embed missing: %+v", rows[0])
	}
	if res.Count == nil || *res.Count != 10 {
		t.Fatalf("count = %v", res.Count)
	}
	rows = nil
	if _, err := c.From("books").Select("id", "").In("id", 1, 2, 3).Into(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	equal(t, ids(rows), []int{1, 2, 3})
	rows = nil
	if _, err := c.From("books").Select("id", "").Or("id.eq.1,id.eq.2").Order("id", true).Into(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	equal(t, ids(rows), []int{1, 2})
	rows = nil
	if _, err := c.From("authors").Select("id", "").Is("birth_date", nil).Not("id", "gt", 8).Into(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	equal(t, ids(rows), []int{4, 8})
	rows = nil
	if _, err := c.From("books").Select("id", "").Contains("keywords", "rare").Eq("id", 3).Into(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	equal(t, ids(rows), []int{3})
}

func TestSingleAndCSV(t *testing.T) {
	c, ctx := server(t), context.Background()
	var one book
	if _, err := c.From("books").Select("id", "").Eq("id", 5).Single().Into(ctx, &one); err != nil || one.ID != 5 {
		t.Fatalf("single: %v %+v", err, one)
	}
	res, err := c.From("books").Select("id", "").Eq("id", -1).MaybeSingle().Execute(ctx)
	if err != nil || string(res.Data) != "null" {
		t.Fatalf("maybeSingle: %v %s", err, res.Data)
	}
	_, err = c.From("books").Select("id", "").Lt("id", 3).Single().Execute(ctx)
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code != "PGRST116" || apiErr.Status != 406 {
		t.Fatalf("want PGRST116, got %v", err)
	}
	res, err = c.From("tags").Select("id,name", "").Order("id", true).Limit(2).CSV().Execute(ctx)
	if err != nil || !strings.HasPrefix(string(res.Data), "id,name\n") {
		t.Fatalf("csv: %v %q", err, res.Data)
	}
}

type tag struct {
	ID   int    `json:"id,omitempty"`
	Name string `json:"name"`
}

func TestWrites(t *testing.T) {
	c, ctx := server(t), context.Background()
	var made []tag
	res, err := c.From("tags").Insert(tag{Name: "go-sdk"}, "representation").Into(ctx, &made)
	if err != nil || res.Status != 201 || len(made) != 1 {
		t.Fatalf("insert: %v %+v", err, made)
	}
	id := made[0].ID
	var changed []tag
	if _, err := c.From("tags").Update(map[string]any{"name": "go-sdk-2"}, "representation").Eq("id", id).Into(ctx, &changed); err != nil {
		t.Fatal(err)
	}
	equal(t, changed, []tag{{ID: id, Name: "go-sdk-2"}})
	if _, err := c.From("tags").Upsert(tag{ID: id, Name: "go-sdk-3"}, "", "representation").Into(ctx, &changed); err != nil || changed[0].Name != "go-sdk-3" {
		t.Fatalf("upsert: %v %+v", err, changed)
	}
	res, err = c.From("tags").Insert([]tag{{Name: "go-a"}, {Name: "go-b"}}, "minimal").Execute(ctx)
	if err != nil || len(res.Data) != 0 {
		t.Fatalf("minimal: %v %s", err, res.Data)
	}
	var gone []tag
	if _, err := c.From("tags").Delete("representation").In("name", "go-sdk-3", "go-a", "go-b").Into(ctx, &gone); err != nil || len(gone) != 3 {
		t.Fatalf("delete: %v %+v", err, gone)
	}
	_, err = c.From("tags").Insert(tag{Name: "fiction"}, "minimal").Execute(ctx)
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code != "23505" || apiErr.Status != 409 {
		t.Fatalf("want 23505, got %v", err)
	}
}

func TestRPCAndErrors(t *testing.T) {
	c, ctx := server(t), context.Background()
	var sum int
	if _, err := c.RPC("add_numbers", map[string]any{"a": 2, "b": 3}, false).Into(ctx, &sum); err != nil || sum != 5 {
		t.Fatalf("rpc: %v %d", err, sum)
	}
	var numbers []int
	if _, err := c.RPC("numbers_up_to", map[string]any{"n": 4}, true).Into(ctx, &numbers); err != nil {
		t.Fatal(err)
	}
	equal(t, numbers, []int{1, 2, 3, 4})
	_, err := c.RPC("refuse", map[string]any{"reason": "no"}, false).Execute(ctx)
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Message != "refused: no" || apiErr.DetailsText() != "a detail" || apiErr.Hint == nil || *apiErr.Hint != "a hint" {
		t.Fatalf("typed error: %#v", err)
	}
	_, err = c.From("nope").Select("*", "").Execute(ctx)
	if !errors.As(err, &apiErr) || apiErr.Status != 404 || !strings.HasPrefix(apiErr.Code, "PGRST") {
		t.Fatalf("404: %v", err)
	}
}

func TestRetriesAndTimeouts(t *testing.T) {
	var calls int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if atomic.AddInt32(&calls, 1) < 3 {
			w.WriteHeader(503)
			return
		}
		w.Write([]byte(`[{"id":1}]`))
	}))
	defer flaky.Close()
	c := NewClient(flaky.URL, "k", &Options{Backoff: time.Millisecond})
	res, err := c.From("t").Select("*", "").Execute(context.Background())
	if err != nil || string(res.Data) != `[{"id":1}]` || calls != 3 {
		t.Fatalf("retry: %v %d", err, calls)
	}
	atomic.StoreInt32(&calls, 0)
	_, err = c.From("t").Insert(map[string]int{"a": 1}, "minimal").Execute(context.Background())
	if err == nil || calls != 1 {
		t.Fatalf("POST must not be retried: %v %d", err, calls)
	}
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer slow.Close()
	s := NewClient(slow.URL, "k", &Options{Timeout: 30 * time.Millisecond, Retries: -1})
	_, err = s.From("t").Select("*", "").Execute(context.Background())
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code != "TIMEOUT" {
		t.Fatalf("timeout: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err = c.From("t").Select("*", "").Execute(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestManagement(t *testing.T) {
	c := server(t)
	ctx := context.Background()
	m := NewManagement(os.Getenv("DBIFY_TEST_API_URL"), os.Getenv("DBIFY_TEST_TOKEN"))
	id := os.Getenv("DBIFY_TEST_PROJECT_ID")
	projects, err := m.ListProjects(ctx)
	if err != nil || len(projects) == 0 {
		t.Fatalf("projects: %v", err)
	}
	if p, err := m.GetProject(ctx, id); err != nil || p.ID != id {
		t.Fatalf("project: %v", err)
	}
	key, err := m.CreateKey(ctx, id, "go-sdk", "anon")
	if err != nil || key.Key == "" {
		t.Fatalf("create key: %v", err)
	}
	keys, err := m.ListKeys(ctx, id)
	if err != nil || len(keys) < 3 {
		t.Fatalf("keys: %v %d", err, len(keys))
	}
	anon := NewClient(strings.TrimSuffix(c.base, "/"), key.Key, nil)
	if _, err := anon.From("tags").Select("id", "").Limit(1).Execute(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.RevokeKey(ctx, id, key.ID); err != nil {
		t.Fatal(err)
	}
	_, err = m.GetProject(ctx, "missing")
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Fatalf("missing: %v", err)
	}
}

type author struct {
	ID    int    `json:"id"`
	Books []book `json:"books"`
}

func TestReferencedTables(t *testing.T) {
	c, ctx := server(t), context.Background()
	var rows []author
	if _, err := c.From("authors").Select("id,books(id)", "").Eq("id", 1).
		Order("id", false, ReferencedTable("books")).Limit(2, ReferencedTable("books")).Into(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	equal(t, ids(rows[0].Books), []int{181, 151})
	rows = nil
	if _, err := c.From("authors").Select("id,books(id)", "").Eq("id", 1).
		Or("id.eq.31,id.eq.61,id.eq.91", ReferencedTable("books")).Order("id", true, ReferencedTable("books")).
		Range(1, 2, ReferencedTable("books")).Into(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	equal(t, ids(rows[0].Books), []int{61, 91})
	rows = nil
	// An alias names the embed: written:books(id) is ordered by written.order.
	var aliased []struct {
		Written []book `json:"written"`
	}
	if _, err := c.From("authors").Select("written:books(id)", "").Eq("id", 2).
		Order("id", false, ReferencedTable("written")).Limit(1, ReferencedTable("written")).Into(ctx, &aliased); err != nil {
		t.Fatal(err)
	}
	equal(t, ids(aliased[0].Written), []int{182})
	var people []book
	if _, err := c.From("authors").Select("id", "").Lte("id", 9).Order("birth_date", true, NullsFirst()).
		Order("id", true).Limit(3).Into(ctx, &people); err != nil {
		t.Fatal(err)
	}
	equal(t, ids(people), []int{4, 8, 1})
	people = nil
	if _, err := c.From("authors").Select("id", "").Lte("id", 8).Order("birth_date", false, NullsLast()).
		Order("id", true).Into(ctx, &people); err != nil {
		t.Fatal(err)
	}
	equal(t, ids(people)[6:], []int{4, 8})
}

func TestUpsertIgnoreDuplicates(t *testing.T) {
	c, ctx := server(t), context.Background()
	var before tag
	if _, err := c.From("tags").Select("id,name", "").Eq("name", "fiction").Single().Into(ctx, &before); err != nil {
		t.Fatal(err)
	}
	var made []tag
	if _, err := c.From("tags").Upsert([]tag{{Name: "fiction"}, {Name: "go-ignored"}}, "name", "representation").
		IgnoreDuplicates().Into(ctx, &made); err != nil {
		t.Fatal(err)
	}
	if len(made) != 1 || made[0].Name != "go-ignored" {
		t.Fatalf("only the new row comes back: %+v", made)
	}
	var after tag
	if _, err := c.From("tags").Select("id,name", "").Eq("name", "fiction").Single().Into(ctx, &after); err != nil || after != before {
		t.Fatalf("fiction changed: %v %+v", err, after)
	}
	// Without IgnoreDuplicates the same conflict merges: the row comes back.
	var merged []tag
	if _, err := c.From("tags").Upsert(tag{Name: "go-ignored"}, "name", "representation").Into(ctx, &merged); err != nil ||
		len(merged) != 1 || merged[0].ID != made[0].ID {
		t.Fatalf("merge: %v %+v", err, merged)
	}
	if _, err := c.From("tags").Delete("minimal").Eq("id", made[0].ID).Execute(ctx); err != nil {
		t.Fatal(err)
	}
}

func management(t *testing.T) (*Management, string) {
	if os.Getenv("DBIFY_TEST_API_URL") == "" {
		t.Skip("needs DBIFY_TEST_API_URL (run through tests/sdks)")
	}
	return NewManagement(os.Getenv("DBIFY_TEST_API_URL"), os.Getenv("DBIFY_TEST_TOKEN")), os.Getenv("DBIFY_TEST_PROJECT_ID")
}

func TestSavedQuery(t *testing.T) {
	c, ctx := server(t), context.Background()
	m, id := management(t)
	saved, err := m.CreateSavedQuery(ctx, id, SavedQueryCreate{
		Name:       "go_books_of_author",
		SQL:        "SELECT id, title FROM books WHERE author_id = :author ORDER BY id",
		Parameters: []QueryParameter{{Name: "author", Type: "integer"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if saved.Name != "go_books_of_author" || len(saved.Columns) != 2 || saved.CreatedAt.IsZero() {
		t.Fatalf("saved: %+v", saved)
	}
	queries, err := m.ListSavedQueries(ctx, id)
	found := false
	for _, q := range queries {
		found = found || q.Name == saved.Name
	}
	if err != nil || !found {
		t.Fatalf("list: %v %+v", err, queries)
	}
	var rows []book
	if _, err := c.Query(saved.Name, map[string]any{"author": 1}).Into(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	equal(t, ids(rows), []int{1, 31, 61, 91, 121, 151, 181})
	if rows[0].Title == "" {
		t.Fatalf("title missing: %+v", rows[0])
	}
	rows = nil
	if _, err := c.Query(saved.Name, map[string]any{"author": 1}).Select("id", "").Gt("id", 60).
		Order("id", false).Limit(2).Into(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	equal(t, ids(rows), []int{181, 151})
	_, err = c.Query("no_such_query", nil).Execute(ctx)
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Fatalf("missing query: %v", err)
	}
	_, err = c.Query(saved.Name, nil).Execute(ctx)
	if !errors.As(err, &apiErr) || apiErr.Status != 400 {
		t.Fatalf("missing parameter: %v", err)
	}
	if err := m.DeleteSavedQuery(ctx, id, saved.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := m.GetSavedQuery(ctx, id, saved.Name); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Fatalf("deleted query: %v", err)
	}
}

func TestSearch(t *testing.T) {
	c, ctx := server(t), context.Background()
	m, id := management(t)
	index, err := m.CreateSearchIndex(ctx, id, SearchIndexCreate{Table: "books", TextColumns: map[string]float64{"title": 1}})
	var apiErr *Error
	if err == nil {
		if index.Table != "books" || index.Schema != "public" || index.State != "ready" || index.RowsIndexed < 200 {
			t.Fatalf("index: %+v", index)
		}
	} else if !errors.As(err, &apiErr) || apiErr.Status != 409 { // another SDK's suite made it first
		t.Fatal(err)
	}
	indexes, err := m.ListSearchIndexes(ctx, id)
	if err != nil || len(indexes) == 0 || indexes[0].ID == "" {
		t.Fatalf("indexes: %v %+v", err, indexes)
	}
	var page SearchPage[book]
	if _, err := c.Search("books", "003", &SearchOptions{Limit: 5}).Into(ctx, &page); err != nil {
		t.Fatal(err)
	}
	hit := false
	for _, item := range page.Items {
		hit = hit || item.Row.ID == 3
	}
	if page.Mode != "text" || page.Limit != 5 || !hit || page.Items[0].Score <= 0 {
		t.Fatalf("search: %+v", page)
	}
	page = SearchPage[book]{}
	if _, err := c.Search("books", "003", nil).Eq("id", 3).Into(ctx, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].Row.ID != 3 {
		t.Fatalf("narrowed: %+v", page)
	}
	page = SearchPage[book]{}
	if _, err := c.Search("books", "book", &SearchOptions{Mode: "text", Limit: 2, Offset: 2}).Into(ctx, &page); err != nil {
		t.Fatal(err)
	}
	if page.Offset != 2 || len(page.Items) != 2 || !page.HasMore {
		t.Fatalf("paged: %+v", page)
	}
	_, err = c.Search("books", "003", &SearchOptions{Mode: "psychic"}).Execute(ctx)
	if !errors.As(err, &apiErr) || apiErr.Status != 400 {
		t.Fatalf("bad mode: %v", err)
	}
}

func TestLogsStatsLint(t *testing.T) {
	c, ctx := server(t), context.Background()
	m, id := management(t)
	if _, err := c.From("tags").Select("id", "").Eq("id", 2).Execute(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		page, err := m.Logs(ctx, id, &LogsOptions{Table: "tags", Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no request-log event arrived")
		}
		time.Sleep(300 * time.Millisecond)
	}
	page, err := m.Logs(ctx, id, &LogsOptions{Table: "tags", StatusClass: "2xx", Method: "get", Limit: 1,
		From: time.Now().Add(-time.Hour)})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("logs: %v %+v", err, page)
	}
	event, err := m.LogEvent(ctx, id, page.Items[0].EventID)
	if err != nil || event.Target != "tags" || event.Method != "GET" || event.Status/100 != 2 || event.Time().IsZero() {
		t.Fatalf("event: %v %+v", err, event)
	}
	var apiErr *Error
	if _, err := m.LogEvent(ctx, id, "no-such-event"); !errors.As(err, &apiErr) || apiErr.Status < 400 {
		t.Fatalf("missing event: %v", err)
	}
	stats, err := m.Stats(ctx, id, &StatsOptions{Bucket: "minute", From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Minute)})
	if err != nil || stats.ProjectID != id || stats.From == "" || stats.Bucket != "minute" || stats.Totals.Requests < 1 || len(stats.Series) == 0 {
		t.Fatalf("stats: %v %+v", err, stats)
	}
	report, err := m.Lint(ctx, id, nil)
	if err != nil || report.ProjectID != id || len(report.Schemas) == 0 || len(report.Findings) == 0 {
		t.Fatalf("lint: %v %+v", err, report)
	}
	if f := report.Findings[0]; f.Rule == "" || f.Level == "" || f.Message == "" {
		t.Fatalf("finding: %+v", f)
	}
	if _, err := m.Lint(ctx, id, &LintOptions{OpenAPI: true, SlowMS: 50, MinRequests: 1}); err != nil {
		t.Fatal(err)
	}
}
