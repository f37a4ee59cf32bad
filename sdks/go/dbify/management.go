package dbify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Management is a client for the management API (…/api/v1) with a personal access
// token: projects, API keys, saved queries, search indexes, request stats and logs, lint.
type Management struct{ client *Client }

// Project is a project as the management API returns it.
type Project struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	RestURL string   `json:"rest_url"`
	Schemas []string `json:"schemas"`
	Paused  bool     `json:"paused"`
}

// Key is an API key; Key (the secret) is set only when it was just created.
type Key struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Role   string `json:"role"`
	Prefix string `json:"prefix"`
	Key    string `json:"key,omitempty"`
}

// NewManagement returns a management client for apiURL (…/api/v1).
func NewManagement(apiURL, token string) *Management {
	c := NewClient(apiURL, "", &Options{JWT: token, Timeout: 30 * time.Second})
	return &Management{client: c}
}

func (m *Management) call(ctx context.Context, method, path string, params url.Values, body, out any) error {
	resp, data, err := m.client.do(ctx, method, path, params, http.Header{}, body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		return errorFromBody(resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (m *Management) ListProjects(ctx context.Context) ([]Project, error) {
	var page struct{ Items []Project }
	err := m.call(ctx, http.MethodGet, "/projects", nil, nil, &page)
	return page.Items, err
}

func (m *Management) GetProject(ctx context.Context, id string) (*Project, error) {
	var p Project
	if err := m.call(ctx, http.MethodGet, "/projects/"+url.PathEscape(id), nil, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func (m *Management) DeleteProject(ctx context.Context, id string) error {
	return m.call(ctx, http.MethodDelete, "/projects/"+url.PathEscape(id), nil, nil, nil)
}

func (m *Management) ListKeys(ctx context.Context, projectID string) ([]Key, error) {
	var page struct{ Items []Key }
	err := m.call(ctx, http.MethodGet, "/projects/"+url.PathEscape(projectID)+"/keys", nil, nil, &page)
	return page.Items, err
}

func (m *Management) CreateKey(ctx context.Context, projectID, name, role string) (*Key, error) {
	var k Key
	body := map[string]string{"name": name, "role": role}
	if err := m.call(ctx, http.MethodPost, "/projects/"+url.PathEscape(projectID)+"/keys", nil, body, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

func (m *Management) RevokeKey(ctx context.Context, projectID, keyID string) error {
	return m.call(ctx, http.MethodDelete, "/projects/"+url.PathEscape(projectID)+"/keys/"+url.PathEscape(keyID), nil, nil, nil)
}
