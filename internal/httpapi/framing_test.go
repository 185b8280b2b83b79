package httpapi

import "testing"

// TestFramingWatch: the watch finds the header block that carries
// Transfer-Encoding however the stream is cut into reads, passing over
// Content-Length bodies that look like headers.
func TestFramingWatch(t *testing.T) {
	body := "Transfer-Encoding: chunked\r\n\r\n" // a body, not a header
	for _, c := range []struct {
		name      string
		stream    string
		teAt      int
		bad       bool
		nextBlock bool // the watch is still following blocks
	}{
		{"plain requests", "GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 30\r\n\r\n" + body + "GET / HTTP/1.1\r\n\r\n", 0, false, true},
		{"CL and TE in the third", "GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 30\r\n\r\n" + body + "POST / HTTP/1.1\r\ncontent-length: 5\r\nTRANSFER-ENCODING: chunked\r\n\r\n0\r\n\r\n", 3, true, false},
		{"TE alone", "POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n0\r\n\r\n", 1, false, false},
		{"HTTP/1.0 with TE", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 1, true, false},
		{"OPTIONS * is not the handler's", "OPTIONS * HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", 1, true, false},
		{"folded line", "GET / HTTP/1.1\r\nX: a\r\n Transfer-Encoding: chunked\r\n\r\n", 0, false, true},
	} {
		for _, step := range []int{1, 3, 7, 1 << 10} {
			var f framing
			for s := c.stream; len(s) > 0; {
				n := min(step, len(s))
				f.feed([]byte(s[:n]))
				s = s[n:]
			}
			if f.teAt != c.teAt || f.bad != c.bad || f.stopped == c.nextBlock {
				t.Errorf("%s, reads of %d bytes: teAt %d bad %v stopped %v; want %d %v %v",
					c.name, step, f.teAt, f.bad, f.stopped, c.teAt, c.bad, !c.nextBlock)
			}
		}
	}
}
