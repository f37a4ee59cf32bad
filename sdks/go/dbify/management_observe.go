package dbify

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// StatsOptions bound Stats to [From, To) (zero: the server's default window) with
// Bucket "minute", "hour" (the default) or "day".
type StatsOptions struct {
	From, To time.Time
	Bucket   string
}

// Stats are request totals, latency percentiles, a time series and breakdowns.
type Stats struct {
	ProjectID string           `json:"project_id"`
	From      string           `json:"from_"`
	To        string           `json:"to"`
	Bucket    string           `json:"bucket"`
	Totals    StatsTotals      `json:"totals"`
	Series    []StatsPoint     `json:"series"`
	ByStatus  []StatsBreakdown `json:"by_status"`
	ByMethod  []StatsBreakdown `json:"by_method"`
	ByTable   []StatsBreakdown `json:"by_table"`
	ByKey     []StatsBreakdown `json:"by_key"`
	Slowest   []SlowEndpoint   `json:"slowest"`
}

type StatsTotals struct {
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	AvgMS     float64 `json:"avg_ms"`
	P50MS     float64 `json:"p50_ms"`
	P95MS     float64 `json:"p95_ms"`
	P99MS     float64 `json:"p99_ms"`
}

type StatsPoint struct {
	Time     string  `json:"time"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	AvgMS    float64 `json:"avg_ms"`
	P95MS    float64 `json:"p95_ms"`
}

// StatsBreakdown is the requests of one status, method, table or key.
type StatsBreakdown struct {
	Value    string  `json:"value"`
	Requests int64   `json:"requests"`
	AvgMS    float64 `json:"avg_ms"`
}

type SlowEndpoint struct {
	Method   string  `json:"method"`
	Target   string  `json:"target"`
	Requests int64   `json:"requests"`
	AvgMS    float64 `json:"avg_ms"`
	P95MS    float64 `json:"p95_ms"`
}

func setTime(params url.Values, name string, t time.Time) {
	if !t.IsZero() {
		params.Set(name, t.UTC().Format(time.RFC3339Nano))
	}
}

func setString(params url.Values, name, value string) {
	if value != "" {
		params.Set(name, value)
	}
}

// Stats summarizes a project's requests.
func (m *Management) Stats(ctx context.Context, projectID string, opts *StatsOptions) (*Stats, error) {
	o := StatsOptions{}
	if opts != nil {
		o = *opts
	}
	params := url.Values{}
	setTime(params, "from", o.From)
	setTime(params, "to", o.To)
	setString(params, "bucket", o.Bucket)
	var stats Stats
	if err := m.call(ctx, http.MethodGet, projectPath(projectID, "stats"), params, nil, &stats); err != nil {
		return nil, err
	}
	return &stats, nil
}

// LogsOptions filter Logs; zero values do not filter. StatusClass is "2xx", "4xx"…;
// Cursor is a previous page's NextCursor; Limit defaults to 50 (at most 500).
type LogsOptions struct {
	From, To    time.Time
	Status      int
	StatusClass string
	Method      string
	Table       string
	KeyID       string
	RequestID   string
	Cursor      string
	Limit       int
}

// LogEvent is one request of the request log.
type LogEvent struct {
	EventID       string `json:"event_id"`
	TimestampUS   int64  `json:"timestamp_us"`
	ProjectID     string `json:"project_id"`
	RequestID     string `json:"request_id"`
	Method        string `json:"method"`
	Path          string `json:"path"`
	Target        string `json:"target"`
	QueryShape    string `json:"query_shape"`
	Status        int    `json:"status"`
	ErrorCode     string `json:"error_code"`
	DurationUS    int64  `json:"duration_us"`
	DBUS          int64  `json:"db_us"`
	Rows          int64  `json:"rows"`
	ResponseBytes int64  `json:"response_bytes"`
	KeyID         string `json:"key_id"`
	Role          string `json:"role"`
	ClientIP      string `json:"client_ip"`
	UserAgent     string `json:"user_agent"`
}

// Time is when the request was received.
func (e *LogEvent) Time() time.Time { return time.UnixMicro(e.TimestampUS) }

// LogPage is one page of the request log, newest first; NextCursor is "" on the last.
type LogPage struct {
	Items      []LogEvent `json:"items"`
	NextCursor string     `json:"next_cursor"`
}

// Logs returns one page of a project's request log.
func (m *Management) Logs(ctx context.Context, projectID string, opts *LogsOptions) (*LogPage, error) {
	o := LogsOptions{}
	if opts != nil {
		o = *opts
	}
	params := url.Values{}
	setTime(params, "from", o.From)
	setTime(params, "to", o.To)
	if o.Status != 0 {
		params.Set("status", strconv.Itoa(o.Status))
	}
	setString(params, "status_class", o.StatusClass)
	setString(params, "method", o.Method)
	setString(params, "table", o.Table)
	setString(params, "key_id", o.KeyID)
	setString(params, "request_id", o.RequestID)
	setString(params, "cursor", o.Cursor)
	if o.Limit != 0 {
		params.Set("limit", strconv.Itoa(o.Limit))
	}
	var page LogPage
	if err := m.call(ctx, http.MethodGet, projectPath(projectID, "logs"), params, nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// LogEvent returns one event of the request log by its EventID.
func (m *Management) LogEvent(ctx context.Context, projectID, eventID string) (*LogEvent, error) {
	var event LogEvent
	if err := m.call(ctx, http.MethodGet, projectPath(projectID, "logs", eventID), nil, nil, &event); err != nil {
		return nil, err
	}
	return &event, nil
}

// LintOptions tune Lint: OpenAPI also lints the generated OpenAPI document; SlowMS
// (default 200) and MinRequests (default 100) tune the findings read from request logs.
type LintOptions struct {
	OpenAPI     bool
	SlowMS      float64
	MinRequests int
}

// LintFinding is one problem of the exposed schemas and how to fix it.
type LintFinding struct {
	Rule     string `json:"rule"`
	Level    string `json:"level"`    // error, warning or info
	Category string `json:"category"` // api, security, performance or naming
	Subject  string `json:"subject"`
	Message  string `json:"message"`
	Remedy   string `json:"remedy"`
}

// LintReport holds every finding, most severe first, and Counts per level.
type LintReport struct {
	ProjectID string         `json:"project_id"`
	Schemas   []string       `json:"schemas"`
	Counts    map[string]int `json:"counts"`
	Findings  []LintFinding  `json:"findings"`
}

// Lint checks a project's exposed schemas now.
func (m *Management) Lint(ctx context.Context, projectID string, opts *LintOptions) (*LintReport, error) {
	o := LintOptions{}
	if opts != nil {
		o = *opts
	}
	params := url.Values{}
	if o.OpenAPI {
		params.Set("openapi", "true")
	}
	if o.SlowMS > 0 {
		params.Set("slow_ms", strconv.FormatFloat(o.SlowMS, 'f', -1, 64))
	}
	if o.MinRequests > 0 {
		params.Set("min_requests", strconv.Itoa(o.MinRequests))
	}
	var report LintReport
	if err := m.call(ctx, http.MethodGet, projectPath(projectID, "lint"), params, nil, &report); err != nil {
		return nil, err
	}
	return &report, nil
}
