package lab

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// proxyV2Sig opens every PROXY protocol v2 header.
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// proxyHeaderTimeout bounds the wait for a connection's first bytes.
const proxyHeaderTimeout = 5 * time.Second

// ProxyHeader is what a PROXY protocol v2 header said.
type ProxyHeader struct {
	Local  bool           // LOCAL command (a health check): no addresses
	Source netip.AddrPort // the client, for PROXY
	Dest   netip.AddrPort
}

// ParseProxyV2 reads one PROXY protocol v2 header (the signature
// included) from r: TCP over IPv4 or IPv6, or LOCAL; TLVs are skipped.
func ParseProxyV2(r io.Reader) (ProxyHeader, error) {
	var fixed [16]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return ProxyHeader{}, fmt.Errorf("reading the PROXY header: %w", err)
	}
	if !bytes.Equal(fixed[:12], proxyV2Sig) {
		return ProxyHeader{}, errors.New("not a PROXY protocol v2 header")
	}
	if fixed[12]>>4 != 2 {
		return ProxyHeader{}, fmt.Errorf("PROXY header version %d, want 2", fixed[12]>>4)
	}
	body := make([]byte, binary.BigEndian.Uint16(fixed[14:16]))
	if _, err := io.ReadFull(r, body); err != nil {
		return ProxyHeader{}, fmt.Errorf("reading the PROXY addresses: %w", err)
	}
	switch fixed[12] & 0x0f {
	case 0:
		return ProxyHeader{Local: true}, nil
	case 1:
	default:
		return ProxyHeader{}, fmt.Errorf("PROXY command %d", fixed[12]&0x0f)
	}
	var alen int
	switch fixed[13] {
	case 0x11: // TCP over IPv4
		alen = 4
	case 0x21: // TCP over IPv6
		alen = 16
	default:
		return ProxyHeader{}, fmt.Errorf("PROXY family/protocol 0x%02x, want TCP", fixed[13])
	}
	if len(body) < 2*alen+4 {
		return ProxyHeader{}, errors.New("PROXY addresses too short")
	}
	src, _ := netip.AddrFromSlice(body[:alen])
	dst, _ := netip.AddrFromSlice(body[alen : 2*alen])
	ports := body[2*alen:]
	return ProxyHeader{
		Source: netip.AddrPortFrom(src, binary.BigEndian.Uint16(ports[0:2])),
		Dest:   netip.AddrPortFrom(dst, binary.BigEndian.Uint16(ports[2:4])),
	}, nil
}

// proxyListener accepts connections that may open with a PROXY protocol
// v2 header, as an ingress controller with PROXY protocol on does, but it
// also takes connections without one, so one worker serves both settings
// of ingress.proxyProtocol. The header is read on the connection's first
// use, in its own goroutine, never in Accept.
type proxyListener struct{ net.Listener }

func (l proxyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &proxyConn{Conn: c}, nil
}

// proxyConn is a connection whose PROXY header (if any) has been taken
// off: RemoteAddr is the client's address from the header.
type proxyConn struct {
	net.Conn
	once   sync.Once
	br     *bufio.Reader
	header *ProxyHeader // nil: the connection had none
	err    error
}

func (c *proxyConn) init() {
	c.once.Do(func() {
		c.br = bufio.NewReader(c.Conn)
		_ = c.Conn.SetReadDeadline(time.Now().Add(proxyHeaderTimeout))
		defer func() { _ = c.Conn.SetReadDeadline(time.Time{}) }()
		start, err := c.br.Peek(len(proxyV2Sig))
		if err != nil || !bytes.Equal(start, proxyV2Sig) {
			return // no header: the bytes stay for Read; errors show there
		}
		h, err := ParseProxyV2(c.br)
		if err != nil {
			c.err = err
			return
		}
		c.header = &h
	})
}

func (c *proxyConn) Read(p []byte) (int, error) {
	c.init()
	if c.err != nil {
		return 0, c.err
	}
	return c.br.Read(p)
}

// RemoteAddr is the client's address from the PROXY header, else the
// peer's.
func (c *proxyConn) RemoteAddr() net.Addr {
	c.init()
	if c.header != nil && !c.header.Local {
		return net.TCPAddrFromAddrPort(c.header.Source)
	}
	return c.Conn.RemoteAddr()
}

// Proxied reports whether the connection opened with a PROXY header.
func (c *proxyConn) Proxied() bool {
	c.init()
	return c.header != nil
}
