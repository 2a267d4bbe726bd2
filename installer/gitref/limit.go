package gitref

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/net/proxy"
)

// MaxAdvertisedRefs and MaxAdvertisement bound the ref advertisement List
// reads, so that a server that never ends its advertisement gets an error
// in bounded time and memory instead of growing pipguard until --timeout.
// Both are far above what the largest repositories advertise: GitHub's
// largest have about 55,000 refs in a few MiB (docs/benchmarks.md, P6
// lists 55,000 refs in 326 ms). MaxAdvertisedRefs counts pkt-lines: a ref,
// or the peeled value of an annotated tag.
const (
	MaxAdvertisedRefs = 1_000_000
	MaxAdvertisement  = 256 << 20
)

// ErrAdvertisementTooLarge is the cause of a RemoteError for an
// advertisement past MaxAdvertisedRefs or MaxAdvertisement.
var ErrAdvertisementTooLarge = errors.New("ref advertisement too large")

// advLimit counts an advertisement's bytes and pkt-lines as it is read
// and fails the read once either passes its bound. It is used by one
// reader at a time; tripped may be asked from another goroutine.
type advLimit struct {
	maxBytes int64
	maxLines int

	n     int64
	lines int
	// pkt-line framing (gitprotocol-common: a 4-digit hex length that
	// counts itself, then the payload); framed is false once a length
	// did not parse, and then only bytes are counted.
	hdr    [4]byte
	hdrN   int
	left   int
	framed bool

	mu  sync.Mutex
	err error
}

func newAdvLimit() *advLimit {
	// Two lines more than the refs: the HTTP "# service=" line, and the
	// capabilities line of an empty repository.
	return &advLimit{maxBytes: MaxAdvertisement, maxLines: MaxAdvertisedRefs + 2, framed: true}
}

// tripped is the error the limit stopped a read with, or nil.
func (l *advLimit) tripped() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *advLimit) trip(what string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = fmt.Errorf("%w: the remote sent more than %s; pipguard reads at most %d refs and %d MiB (the largest repositories advertise about 55,000 refs)",
			ErrAdvertisementTooLarge, what, MaxAdvertisedRefs, MaxAdvertisement>>20)
	}
	return l.err
}

// count accounts for p and reports how much of it is within the bounds.
func (l *advLimit) count(p []byte) (int, error) {
	if rest := l.maxBytes - l.n; int64(len(p)) > rest {
		l.n = l.maxBytes
		return int(rest), l.trip(strconv.Itoa(MaxAdvertisement>>20) + " MiB")
	}
	l.n += int64(len(p))
	for i := 0; i < len(p) && l.framed; {
		if l.left > 0 {
			skip := min(l.left, len(p)-i)
			l.left -= skip
			i += skip
			continue
		}
		l.hdr[l.hdrN] = p[i]
		l.hdrN++
		i++
		if l.hdrN < 4 {
			continue
		}
		l.hdrN = 0
		size, err := strconv.ParseUint(string(l.hdr[:]), 16, 16)
		if err != nil {
			l.framed = false
			break
		}
		if size < 4 {
			continue // flush-pkt, delim-pkt, response-end-pkt
		}
		l.left = int(size) - 4
		if l.lines++; l.lines > l.maxLines {
			return i, l.trip(strconv.Itoa(MaxAdvertisedRefs) + " refs")
		}
	}
	return len(p), nil
}

// reader bounds r.
func (l *advLimit) reader(r io.Reader) io.Reader { return &limitedReader{r: r, l: l} }

type limitedReader struct {
	r io.Reader
	l *advLimit
}

func (r *limitedReader) Read(p []byte) (int, error) {
	if err := r.l.tripped(); err != nil {
		return 0, err
	}
	n, err := r.r.Read(p)
	k, lerr := r.l.count(p[:n])
	if lerr != nil {
		return k, lerr
	}
	return n, err
}

// limitedClient is hc with every response body bounded by l: the only
// response List reads is the advertisement (info/refs), and the redirects
// before it.
func limitedClient(hc *http.Client, l *advLimit) *http.Client {
	c := *hc
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = limitedTransport{base: base, l: l}
	return &c
}

type limitedTransport struct {
	base http.RoundTripper
	l    *advLimit
}

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	res.Body = limitedBody{Reader: t.l.reader(res.Body), Closer: res.Body}
	return res, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}

// Over ssh the advertisement is encrypted on the connection, which go-git
// dials itself: the only hook is the proxy dialer it asks for the scheme of
// ProxyOptions.URL. sshLimitScheme is registered with golang.org/x/net/proxy
// as a dialer that dials as go-git would (proxy.Dial, which honours
// ALL_PROXY) and bounds the bytes read from the connection: the
// advertisement, plus the SSH handshake's few KiB (sshOverhead).
const (
	sshLimitScheme = "pipguard-limited"
	sshOverhead    = 1 << 20
)

// sshLimits maps the host of a pipguard-limited:// URL to its counter.
var (
	sshLimits sync.Map // string -> *connLimit
	sshNext   atomic.Uint64
)

func init() {
	proxy.RegisterDialerType(sshLimitScheme, func(u *url.URL, _ proxy.Dialer) (proxy.Dialer, error) {
		v, ok := sshLimits.Load(u.Host)
		if !ok {
			return nil, fmt.Errorf("no connection limit %q", u.Host)
		}
		return v.(*connLimit), nil
	})
}

// connLimit counts the bytes read from the connections it dials.
type connLimit struct {
	max     int64
	n       atomic.Int64
	tripped atomic.Bool
}

// newSSHLimit registers a connLimit and returns the proxy URL that selects
// it, and a function that unregisters it.
func newSSHLimit() (*connLimit, string, func()) {
	id := "l" + strconv.FormatUint(sshNext.Add(1), 10)
	l := &connLimit{max: MaxAdvertisement + sshOverhead}
	sshLimits.Store(id, l)
	return l, sshLimitScheme + "://" + id, func() { sshLimits.Delete(id) }
}

// DialContext implements proxy.ContextDialer.
func (l *connLimit) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := proxy.Dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &limitedConn{Conn: c, l: l}, nil
}

// Dial implements proxy.Dialer.
func (l *connLimit) Dial(network, addr string) (net.Conn, error) {
	return l.DialContext(context.Background(), network, addr)
}

type limitedConn struct {
	net.Conn
	l *connLimit
}

func (c *limitedConn) Read(p []byte) (int, error) {
	if c.l.n.Load() >= c.l.max {
		c.l.tripped.Store(true)
		return 0, ErrAdvertisementTooLarge
	}
	n, err := c.Conn.Read(p)
	c.l.n.Add(int64(n))
	return n, err
}
