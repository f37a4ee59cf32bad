// Package dbify is a client for Dbify's PostgREST-compatible data API and its management
// API, using only the standard library. Every call takes a context; idempotent calls
// (GET, HEAD) are retried on connection errors and 502/503/504 with backoff.
package dbify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Options configure a Client; zero values take the defaults.
type Options struct {
	JWT        string        // sent as Authorization: Bearer
	Schema     string        // Accept-Profile / Content-Profile
	Timeout    time.Duration // per attempt; default 10s
	Retries    int           // extra attempts for idempotent calls; default 2, -1 for none
	Backoff    time.Duration // first retry delay, doubled each time; default 200ms
	HTTPClient *http.Client
}

// Client talks to one project's REST URL (…/p/{id}/rest/v1).
type Client struct {
	base    string
	headers http.Header
	http    *http.Client
	timeout time.Duration
	retries int
	backoff time.Duration
}

// NewClient returns a client authenticated with an API key (apikey header) and/or a JWT.
func NewClient(restURL, key string, opts *Options) *Client {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	c := &Client{base: strings.TrimRight(restURL, "/"), headers: http.Header{}, http: o.HTTPClient,
		timeout: o.Timeout, retries: o.Retries, backoff: o.Backoff}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	if c.timeout == 0 {
		c.timeout = 10 * time.Second
	}
	if c.retries == 0 {
		c.retries = 2
	} else if c.retries < 0 {
		c.retries = 0
	}
	if c.backoff == 0 {
		c.backoff = 200 * time.Millisecond
	}
	if key != "" {
		c.headers.Set("apikey", key)
	}
	if o.JWT != "" {
		c.headers.Set("Authorization", "Bearer "+o.JWT)
	}
	if o.Schema != "" {
		c.headers.Set("Accept-Profile", o.Schema)
		c.headers.Set("Content-Profile", o.Schema)
	}
	return c
}

// From starts a query on a table or view.
func (c *Client) From(table string) *Query {
	return &Query{client: c, method: http.MethodGet, path: "/" + url.PathEscape(table), params: url.Values{}, headers: http.Header{}}
}

// RPC calls a function; the result can be filtered and ordered like a table's.
func (c *Client) RPC(function string, args map[string]any, get bool) *Query {
	q := &Query{client: c, method: http.MethodPost, path: "/rpc/" + url.PathEscape(function), params: url.Values{}, headers: http.Header{}}
	if get {
		q.method = http.MethodGet
		for k, v := range args {
			q.params.Add(k, literal(v))
		}
	} else {
		if args == nil {
			args = map[string]any{}
		}
		q.body = args
	}
	return q
}

// Query calls a saved query (GET …/rest/v1/q/{name}) with its parameters; its rows can be
// filtered, ordered and paged on top like a table's: Query("top", p).Gt("id", 3).Limit(5).
func (c *Client) Query(name string, params map[string]any) *Query {
	q := &Query{client: c, method: http.MethodGet, path: "/q/" + url.PathEscape(name), params: url.Values{}, headers: http.Header{}}
	for k, v := range params {
		q.params.Add(k, literal(v))
	}
	return q
}

// Result is a decoded answer: Data holds the raw body (JSON, or CSV text).
type Result struct {
	Status int
	Count  *int64
	Data   []byte
}

// Decode unmarshals Data into v.
func (r *Result) Decode(v any) error { return json.Unmarshal(r.Data, v) }

func (c *Client) do(ctx context.Context, method, path string, params url.Values, headers http.Header, body any) (*http.Response, []byte, error) {
	target := c.base + path
	if len(params) > 0 {
		target += "?" + params.Encode()
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, nil, err
		}
	}
	idempotent := method == http.MethodGet || method == http.MethodHead
	for attempt := 0; ; attempt++ {
		attemptCtx, cancel := context.WithTimeout(ctx, c.timeout)
		req, err := http.NewRequestWithContext(attemptCtx, method, target, bytes.NewReader(payload))
		if err != nil {
			cancel()
			return nil, nil, err
		}
		for k, vs := range c.headers {
			req.Header[k] = vs
		}
		for k, vs := range headers {
			req.Header[k] = vs
		}
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.http.Do(req)
		var data []byte
		if err == nil {
			data, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		cancel()
		retry := idempotent && (err != nil || resp.StatusCode == 502 || resp.StatusCode == 503 || resp.StatusCode == 504)
		if retry && attempt < c.retries && ctx.Err() == nil {
			select {
			case <-time.After(c.backoff << attempt):
				continue
			case <-ctx.Done():
			}
		}
		if err != nil {
			code := "CONNECTION"
			if attemptCtx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
				code = "TIMEOUT"
			}
			return nil, nil, &Error{Code: code, Message: err.Error(), cause: err}
		}
		return resp, data, nil
	}
}

func literal(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}
