// Package safehttp makes HTTP clients for fetching URLs that outsiders choose (did:web
// documents, OpenID4VCI offers and metadata, status lists): bounded in time and header size,
// and by default unable to reach loopback, private or link-local addresses, so a crafted URL
// cannot probe the network the server runs in.
package safehttp

import (
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Client returns a client with timeouts that dials only public addresses; with allowInternal
// it dials any address (for local development and tests on 127.0.0.1).
func Client(allowInternal bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if !allowInternal {
		d.Control = refuseInternal
	}
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			DialContext:            d.DialContext,
			TLSHandshakeTimeout:    5 * time.Second,
			ResponseHeaderTimeout:  5 * time.Second,
			MaxResponseHeaderBytes: 16 << 10,
			Proxy:                  nil,
		},
	}
}

func refuseInternal(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return fmt.Errorf("refusing to connect to internal address %s", host)
	}
	return nil
}
