package httpapi

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// A request framed both by Content-Length and by Transfer-Encoding is read
// one way by a front end and the other way by cruxd, so the two disagree on
// where the next request starts: request smuggling (RFC 9112 §11.2).
// net/http reads such a request as chunked and deletes its Content-Length
// before a handler sees it, so the listener of GuardFraming watches each
// connection's header blocks, and ServeHTTP refuses the request and closes
// the connection (RFC 9112 §6.1).

// maxHeaderBlock bounds what the watch keeps of one header block; net/http
// refuses a longer one (431) before any handler runs.
const maxHeaderBlock = 1 << 20

// GuardFraming returns ln with every connection watched, and sets
// srv.ConnContext so that a Server answering srv's requests sees the watch:
// a request carrying Transfer-Encoding together with Content-Length, or
// Transfer-Encoding in HTTP/1.0, is answered 400 and its connection closed;
// a connection is closed after any request with Transfer-Encoding.
func GuardFraming(srv *http.Server, ln net.Listener) net.Listener {
	prev := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prev != nil {
			ctx = prev(ctx, c)
		}
		if fc, ok := c.(*framingConn); ok {
			ctx = context.WithValue(ctx, framingKey{}, &fc.f)
		}
		return ctx
	}
	return framingListener{ln}
}

type framingKey struct{}

type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c}, nil
}

type framingConn struct {
	net.Conn
	f framing
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.f.feed(p[:n])
	return n, err
}

// framing follows the header blocks of one connection in the order
// net/http reads them, skipping Content-Length bodies. It stops at the
// first block with Transfer-Encoding: the connection is closed after that
// request, so no later block is ever served.
type framing struct {
	mu      sync.Mutex
	stopped bool
	skip    int64  // body bytes still to pass over
	line    []byte // the line being read
	inBlock bool
	size    int // bytes of the current block

	// the current block
	optionsStar, http10, cl, te bool
	clValue                     string

	blocks int // blocks ended that reach the handler
	teAt   int // the block with Transfer-Encoding, 0: none yet
	bad    bool
	served int // requests the handler saw
}

func (f *framing) feed(p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(p) > 0 && !f.stopped {
		if f.skip > 0 {
			n := min(int64(len(p)), f.skip)
			f.skip -= n
			p = p[n:]
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			f.line = append(f.line, p...)
			f.size += len(p)
			if f.size > maxHeaderBlock {
				f.stopped = true
			}
			return
		}
		f.line = append(f.line, p[:i]...)
		f.size += i + 1
		p = p[i+1:]
		f.endLine(bytes.TrimSuffix(f.line, []byte("\r")))
		f.line = f.line[:0]
	}
}

// endLine takes one line as net/http's textproto reads it (LF, optionally
// after CR).
func (f *framing) endLine(line []byte) {
	switch {
	case !f.inBlock:
		if len(line) == 0 {
			f.size = 0
			return
		}
		f.inBlock = true
		// net/http answers OPTIONS * itself, without the handler.
		f.optionsStar = bytes.HasPrefix(line, []byte("OPTIONS * "))
		f.http10 = bytes.HasSuffix(line, []byte(" HTTP/1.0"))
		f.cl, f.te, f.clValue = false, false, ""
	case len(line) == 0:
		f.endBlock()
	case line[0] == ' ' || line[0] == '\t':
		// a folded line continues the previous field
	default:
		name, value, _ := bytes.Cut(line, []byte(":"))
		name = bytes.TrimSpace(name)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if !f.cl {
				f.clValue = string(bytes.TrimSpace(value))
			}
			f.cl = true
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			f.te = true
		}
	}
}

func (f *framing) endBlock() {
	f.inBlock, f.size = false, 0
	if !f.optionsStar {
		f.blocks++
	}
	if f.te {
		f.teAt, f.bad, f.stopped = f.blocks, f.cl || f.http10, true
		return
	}
	if f.cl {
		n, err := strconv.ParseInt(f.clValue, 10, 64)
		if err != nil || n < 0 {
			// net/http refuses it and closes the connection.
			f.stopped = true
			return
		}
		f.skip = n
	}
}

// framingVerdict is what ServeHTTP does with a request.
type framingVerdict int

const (
	framingOK framingVerdict = iota
	framingClose
	framingRefuse
)

// request counts a request the handler is serving and returns its verdict.
func (f *framing) request(r *http.Request) framingVerdict {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.served++
	switch {
	case f.teAt != 0 && f.served == f.teAt && f.bad:
		return framingRefuse
	case f.teAt != 0 && f.served >= f.teAt, len(r.TransferEncoding) > 0:
		return framingClose
	}
	return framingOK
}

// checkFraming returns the error a request is refused with, and asks for
// the connection to be closed after the answer when it must be.
func checkFraming(w http.ResponseWriter, r *http.Request) error {
	f, _ := r.Context().Value(framingKey{}).(*framing)
	if f == nil || r.ProtoMajor != 1 {
		return nil
	}
	v := f.request(r)
	if v != framingOK {
		w.Header().Set("Connection", "close")
	}
	if v == framingRefuse {
		return &requestError{status: http.StatusBadRequest,
			detail: "Transfer-Encoding may not come with Content-Length, nor in HTTP/1.0."}
	}
	return nil
}
