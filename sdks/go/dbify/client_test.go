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
