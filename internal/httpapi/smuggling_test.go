package httpapi_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRequestSmuggling: a request framed both by Content-Length and by
// Transfer-Encoding (or by Transfer-Encoding in HTTP/1.0) gets 400 and the
// connection is closed, so whatever a front end took for the next request
// is never read as one (RFC 9112 §6.1). A plainly chunked request is
// served, and its connection closed after it.
func TestRequestSmuggling(t *testing.T) {
	t.Parallel()
	p := newSandboxAPI(t)
	const login = `{"username":"` + roy + `","password":"` + royOldPW + `"}`
	// smuggled is a chunked login body followed by what a front end
	// trusting Content-Length takes for the rest of that body and a server
	// reading chunks for a second request.
	smuggled := strconv.FormatInt(int64(len(login)), 16) + "\r\n" + login + "\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	cl := func(n int) string { return "Content-Length: " + strconv.Itoa(n) + "\r\n" }
	head := "POST /organizations/user-login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	okLogin := "POST /organizations/user-login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + cl(len(login)) + "\r\n" + login
	for _, c := range []struct {
		name  string
		req   string
		want  []int // statuses, in order, before the server closes
		close bool  // the last answer says Connection: close
	}{
		{"CL then TE", head + cl(len(smuggled)) + "Transfer-Encoding: chunked\r\n\r\n" + smuggled, []int{400}, true},
		{"TE then CL", head + "Transfer-Encoding: chunked\r\n" + cl(len(smuggled)) + "\r\n" + smuggled, []int{400}, true},
		{"TE mixed case, CL lower case", head + "transfer-encoding: Chunked\r\ncontent-length: " + strconv.Itoa(len(smuggled)) + "\r\n\r\n" + smuggled, []int{400}, true},
		{"after a kept-alive request", okLogin + head + cl(len(smuggled)) + "Transfer-Encoding: chunked\r\n\r\n" + smuggled, []int{200, 400}, true},
		{"HTTP/1.0 keep-alive with TE", "POST /organizations/user-login/ HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n" + cl(len(login)) + "\r\n" + login + "GET /healthz HTTP/1.0\r\n\r\n", []int{400}, true},
		{"chunked alone is served, then closed", head + "Transfer-Encoding: chunked\r\n\r\n" + smuggled, []int{200}, true},
		{"Content-Length alone keeps the connection", okLogin + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", []int{200, 200}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", p.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(conn, c.req); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			var last *http.Response
			for i, want := range c.want {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("answer %d: %v", i+1, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Fatalf("answer %d: %d %s; want %d", i+1, resp.StatusCode, body, want)
				}
				if want == 400 && (resp.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(string(body), "{")) {
					t.Errorf("400 is not JSON: %s %s", resp.Header.Get("Content-Type"), body)
				}
				last = resp
			}
			if last.Close != c.close {
				t.Errorf("last answer Connection: close = %v; want %v", last.Close, c.close)
			}
			if !c.close {
				return
			}
			// Nothing more: the server hangs up without reading on.
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			rest, err := io.ReadAll(br)
			if len(rest) > 0 {
				t.Errorf("the server answered more after the last answer: %q", firstLine(string(rest)))
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("the connection stayed open")
			}
		})
	}
	p.stillServing(t)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}
