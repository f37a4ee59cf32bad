package dbify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Query accumulates one request over the PostgREST grammar; Execute sends it.
type Query struct {
	client  *Client
	method  string
	path    string
	params  url.Values
	headers http.Header
	prefer  []string
	body    any
	expect  string
}

// Select picks columns (with embeds: "id,author:authors(name)"); count may be "", "exact",
// "planned" or "estimated". On a write, Select asks for the written rows back.
func (q *Query) Select(columns, count string) *Query {
	if q.method != http.MethodGet && q.method != http.MethodHead {
		q.setReturn("representation")
	}
	q.params.Add("select", columns)
	if count != "" {
		q.prefer = append(q.prefer, "count="+count)
	}
	return q
}

func (q *Query) setReturn(mode string) {
	kept := q.prefer[:0]
	for _, p := range q.prefer {
		if !strings.HasPrefix(p, "return=") {
			kept = append(kept, p)
		}
	}
	q.prefer = append(kept, "return="+mode)
}

// Insert sends rows (a struct, map or slice); returning is "representation" or "minimal".
func (q *Query) Insert(rows any, returning string) *Query {
	q.method, q.body = http.MethodPost, rows
	q.setReturn(returning)
	return q
}

// Upsert inserts or, on conflict with onConflict (or the primary key), merges; chain
// IgnoreDuplicates to skip conflicting rows instead.
func (q *Query) Upsert(rows any, onConflict string, returning string) *Query {
	q.Insert(rows, returning)
	q.prefer = append(q.prefer, "resolution=merge-duplicates")
	if onConflict != "" {
		q.params.Add("on_conflict", onConflict)
	}
	return q
}

// IgnoreDuplicates makes an Upsert skip the rows that conflict instead of merging them
// (Prefer: resolution=ignore-duplicates); only the rows actually inserted come back.
func (q *Query) IgnoreDuplicates() *Query {
	for i, p := range q.prefer {
		if strings.HasPrefix(p, "resolution=") {
			q.prefer[i] = "resolution=ignore-duplicates"
			return q
		}
	}
	q.prefer = append(q.prefer, "resolution=ignore-duplicates")
	return q
}

// Update patches the filtered rows.
func (q *Query) Update(values any, returning string) *Query {
	q.method, q.body = http.MethodPatch, values
	q.setReturn(returning)
	return q
}

// Delete deletes the filtered rows.
func (q *Query) Delete(returning string) *Query {
	q.method = http.MethodDelete
	q.setReturn(returning)
	return q
}

// Filter adds any PostgREST operator: Filter("id", "in", "(1,2)").
func (q *Query) Filter(column, operator string, value any) *Query {
	q.params.Add(column, operator+"."+literal(value))
	return q
}

func (q *Query) Eq(c string, v any) *Query         { return q.Filter(c, "eq", v) }
func (q *Query) Neq(c string, v any) *Query        { return q.Filter(c, "neq", v) }
func (q *Query) Gt(c string, v any) *Query         { return q.Filter(c, "gt", v) }
func (q *Query) Gte(c string, v any) *Query        { return q.Filter(c, "gte", v) }
func (q *Query) Lt(c string, v any) *Query         { return q.Filter(c, "lt", v) }
func (q *Query) Lte(c string, v any) *Query        { return q.Filter(c, "lte", v) }
func (q *Query) Like(c, pattern string) *Query     { return q.Filter(c, "like", pattern) }
func (q *Query) ILike(c, pattern string) *Query    { return q.Filter(c, "ilike", pattern) }
func (q *Query) Is(c string, v any) *Query         { return q.Filter(c, "is", v) }
func (q *Query) Not(c, op string, v any) *Query    { return q.Filter(c, "not."+op, v) }
func (q *Query) TextSearch(c, query string) *Query { return q.Filter(c, "fts", query) }

// In matches any of values.
func (q *Query) In(c string, values ...any) *Query {
	parts := make([]string, len(values))
	for i, v := range values {
		text := literal(v)
		if strings.ContainsAny(text, `,()"`) {
			text = strconv.Quote(text)
		}
		parts[i] = text
	}
	return q.Filter(c, "in", "("+strings.Join(parts, ",")+")")
}

func container(values []any) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = literal(v)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func (q *Query) Contains(c string, values ...any) *Query {
	return q.Filter(c, "cs", container(values))
}
func (q *Query) ContainedBy(c string, values ...any) *Query {
	return q.Filter(c, "cd", container(values))
}
func (q *Query) Overlaps(c string, values ...any) *Query {
	return q.Filter(c, "ov", container(values))
}

// A ModifierOption adjusts Or, And, Order, Limit, Offset or Range.
type ModifierOption func(*modifier)

type modifier struct {
	table string
	nulls string
}

// ReferencedTable applies a modifier to an embedded resource instead of the top-level
// rows: Order("id", false, ReferencedTable("books")) sends books.order=id.desc, and
// likewise books.limit, books.offset, books.or and books.and. The name is the embed's
// alias if it has one.
func ReferencedTable(name string) ModifierOption { return func(m *modifier) { m.table = name } }

// NullsFirst sorts NULLs before other values (Order only).
func NullsFirst() ModifierOption { return func(m *modifier) { m.nulls = ".nullsfirst" } }

// NullsLast sorts NULLs after other values (Order only).
func NullsLast() ModifierOption { return func(m *modifier) { m.nulls = ".nullslast" } }

func modifiers(opts []ModifierOption) modifier {
	var m modifier
	for _, opt := range opts {
		if opt != nil {
			opt(&m)
		}
	}
	return m
}

// key is the query parameter of a modifier: "order", or "books.order" for an embed.
func (m modifier) key(name string) string {
	if m.table == "" {
		return name
	}
	return m.table + "." + name
}

// Or adds "or=(a.eq.1,b.eq.2)"; And likewise. With ReferencedTable they filter an
// embedded resource's rows.
func (q *Query) Or(conditions string, opts ...ModifierOption) *Query {
	q.params.Add(modifiers(opts).key("or"), "("+conditions+")")
	return q
}

func (q *Query) And(conditions string, opts ...ModifierOption) *Query {
	q.params.Add(modifiers(opts).key("and"), "("+conditions+")")
	return q
}

// Order appends an ordering term (NullsFirst, NullsLast and ReferencedTable apply).
func (q *Query) Order(column string, ascending bool, opts ...ModifierOption) *Query {
	m := modifiers(opts)
	term := column + ".asc"
	if !ascending {
		term = column + ".desc"
	}
	term += m.nulls
	key := m.key("order")
	if existing := q.params.Get(key); existing != "" {
		term = existing + "," + term
	}
	q.params.Set(key, term)
	return q
}

func (q *Query) Limit(n int, opts ...ModifierOption) *Query {
	q.params.Set(modifiers(opts).key("limit"), strconv.Itoa(n))
	return q
}

func (q *Query) Offset(n int, opts ...ModifierOption) *Query {
	q.params.Set(modifiers(opts).key("offset"), strconv.Itoa(n))
	return q
}

// Range selects rows from..to inclusive (0-based).
func (q *Query) Range(from, to int, opts ...ModifierOption) *Query {
	return q.Offset(from, opts...).Limit(to-from+1, opts...)
}

// Single asks for exactly one row as an object (else PGRST116).
func (q *Query) Single() *Query {
	q.headers.Set("Accept", "application/vnd.pgrst.object+json")
	q.expect = "single"
	return q
}

// MaybeSingle returns one row or JSON null; more rows is an error.
func (q *Query) MaybeSingle() *Query { q.expect = "maybeSingle"; return q }

// CSV asks for text/csv.
func (q *Query) CSV() *Query { q.headers.Set("Accept", "text/csv"); q.expect = "csv"; return q }

// Execute sends the request; API errors are *Error.
func (q *Query) Execute(ctx context.Context) (*Result, error) {
	headers := q.headers.Clone()
	if len(q.prefer) > 0 {
		headers.Set("Prefer", strings.Join(q.prefer, ","))
	}
	resp, data, err := q.client.do(ctx, q.method, q.path, q.params, headers, q.body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		return nil, errorFromBody(resp.StatusCode, data)
	}
	result := &Result{Status: resp.StatusCode, Data: data}
	if parts := strings.SplitN(resp.Header.Get("Content-Range"), "/", 2); len(parts) == 2 {
		if n, err := strconv.ParseInt(parts[1], 10, 64); err == nil {
			result.Count = &n
		}
	}
	if q.expect == "maybeSingle" {
		var rows []json.RawMessage
		if json.Unmarshal(data, &rows) == nil {
			switch len(rows) {
			case 0:
				result.Data = []byte("null")
			case 1:
				result.Data = rows[0]
			default:
				return nil, &Error{Status: 406, Code: "PGRST116", Message: "JSON object requested, multiple (or no) rows returned",
					Details: json.RawMessage(fmt.Sprintf("%q", fmt.Sprintf("The result contains %d rows", len(rows))))}
			}
		}
	}
	return result, nil
}

// Into executes and decodes the body into v.
func (q *Query) Into(ctx context.Context, v any) (*Result, error) {
	result, err := q.Execute(ctx)
	if err != nil {
		return nil, err
	}
	if len(result.Data) > 0 && q.expect != "csv" {
		return result, result.Decode(v)
	}
	return result, nil
}
