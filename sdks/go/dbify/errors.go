package dbify

import (
	"encoding/json"
	"fmt"
)

// Error is an error answer of the API (Status >= 400) or a transport failure (Status 0).
// Code is PostgREST's (PGRST116), PostgreSQL's SQLSTATE (23505) or Dbify's.
type Error struct {
	Status  int             `json:"-"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details"`
	Hint    *string         `json:"hint"`
	cause   error
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("dbify: %s (%s, HTTP %d)", e.Message, e.Code, e.Status)
	}
	return fmt.Sprintf("dbify: %s (HTTP %d)", e.Message, e.Status)
}

// Unwrap returns the transport error behind a failed request, if any.
func (e *Error) Unwrap() error { return e.cause }

// DetailsText returns Details when it is a JSON string, else its raw JSON.
func (e *Error) DetailsText() string {
	var text string
	if json.Unmarshal(e.Details, &text) == nil {
		return text
	}
	return string(e.Details)
}

func errorFromBody(status int, body []byte) *Error {
	e := &Error{Status: status}
	if json.Unmarshal(body, e) != nil || e.Message == "" {
		e.Message = string(body)
		if e.Message == "" {
			e.Message = fmt.Sprintf("HTTP %d", status)
		}
	}
	return e
}
