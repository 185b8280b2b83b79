package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/cruxd/cruxd/internal/account"
)

// maxBody is the largest request body accepted (413 past it).
const maxBody = 64 << 10

// body is a decoded JSON object: its top-level fields, undecoded.
type body map[string]json.RawMessage

// decodeBody reads r's JSON object body. An empty body is an empty object.
// It answers the conventions of docs/api.md: 415 for another media type, 413
// past 64 KiB, 400 for malformed JSON, invalid UTF-8, duplicate keys or a
// body that is not an object.
func decodeBody(w http.ResponseWriter, r *http.Request) (body, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return body{}, nil
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, &requestError{status: http.StatusRequestEntityTooLarge, detail: "Request body is larger than 64 KiB."}
	} else if err != nil {
		return nil, &requestError{status: http.StatusBadRequest, detail: "Could not read the request body."}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return body{}, nil
	}
	if ct := r.Header.Get("Content-Type"); !isJSON(ct) {
		return nil, &requestError{status: http.StatusUnsupportedMediaType,
			detail: fmt.Sprintf("Unsupported media type %q in request.", mediaTypeOf(ct))}
	}
	if !utf8.Valid(raw) {
		return nil, parseError("invalid UTF-8 in request body")
	}
	return parseObject(raw)
}

// isJSON reports whether a Content-Type header names application/json,
// with any parameters.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// mediaTypeOf returns the media type of a header for the 415 message,
// bounded so that a hostile header is not echoed at length.
func mediaTypeOf(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = strings.TrimSpace(ct)
	}
	if len(mt) > 100 || !utf8.ValidString(mt) {
		mt = "(invalid)"
	}
	return mt
}

func parseError(msg string) error {
	return &requestError{status: http.StatusBadRequest, detail: "JSON parse error - " + msg}
}

// parseObject parses a top-level JSON object, refusing duplicate keys (the
// standard decoder would silently keep the last one).
func parseObject(raw []byte) (body, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, parseError(syntaxMessage(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fieldErrors{"non_field_errors": {fmt.Sprintf("Invalid data. Expected a dictionary, but got %s.", jsonKind(tok))}}
	}
	b := body{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, parseError(syntaxMessage(err))
		}
		key := tok.(string) // inside an object the decoder only yields string keys
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, parseError(syntaxMessage(err))
		}
		if _, dup := b[key]; dup {
			return nil, parseError(fmt.Sprintf("duplicate key %q", truncate(key, 40)))
		}
		b[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, parseError(syntaxMessage(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, parseError("extra data after the JSON object")
	}
	return b, nil
}

// syntaxMessage describes a decoding error without quoting the input.
func syntaxMessage(err error) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of JSON input"
	default:
		return "invalid JSON"
	}
}

func jsonKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "list"
		}
	case string:
		return "str"
	case float64, json.Number:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return "unknown"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// str returns a required string field, recording a DRF field error in fe
// when it is missing, null or not a string.
func (b body) str(fe fieldErrors, name string) string {
	v, ok := b[name]
	if !ok || string(v) == "null" {
		fe.add(name, account.MsgFieldRequired)
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		fe.add(name, account.MsgNotAString)
		return ""
	}
	if s == "" {
		fe.add(name, "This field may not be blank.")
	}
	return s
}

// errIfAny returns fe as an error when it holds any field error.
func (f fieldErrors) errIfAny() error {
	if len(f) == 0 {
		return nil
	}
	return f
}
