// Package web holds what Usher's three HTTP edges (the API, the hosted
// pages and the dashboard) each need the same way: who is calling, writing
// a JSON answer, serving embedded files, and reading an upload that takes
// its time.
package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strings"
)

// ClientIP is the address of whoever sent r: the one Proxies.Resolve found
// behind the trusted proxies, else the peer of the connection.
func ClientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientKey{}).(string); ok {
		return ip
	}
	return peer(r)
}

func peer(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type clientKey struct{}

// Proxies are the networks of the load balancers and proxies in front of
// Usher, whose X-Forwarded-For and Forwarded headers are believed.
type Proxies []netip.Prefix

// ParseProxies reads a comma- or space-separated list of CIDRs (a bare
// address is a network of one).
func ParseProxies(s string) (Proxies, error) {
	var ps Proxies
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("%q is neither a CIDR nor an address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}

func (ps Proxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Resolve finds each request's client before next runs, for ClientIP. A
// request whose peer is a trusted proxy is read from its forwarding header
// (Forwarded, else X-Forwarded-For) right to left, past every trusted hop:
// the first address no trusted proxy owns is the client. The left part of
// the header is whatever the client wrote, and is never read. Without
// proxies the headers are ignored.
func (ps Proxies) Resolve(next http.Handler) http.Handler {
	if len(ps) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := ps.client(r)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, ip)))
	})
}

func (ps Proxies) client(r *http.Request) string {
	client := peer(r)
	a, err := netip.ParseAddr(client)
	if err != nil || !ps.trusts(a) {
		return client
	}
	hops := forwardedFor(r.Header.Values("Forwarded"))
	if len(hops) == 0 {
		for _, v := range r.Header.Values("X-Forwarded-For") {
			for _, h := range strings.Split(v, ",") {
				hops = append(hops, strings.TrimSpace(h))
			}
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := hopAddr(hops[i])
		if !ok {
			break // unknown or garbled: the nearest trusted hop is all that is known
		}
		client = a.String()
		if !ps.trusts(a) {
			break
		}
	}
	return client
}

// forwardedFor lists the for= values of RFC 7239 Forwarded headers, in order.
func forwardedFor(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					hops = append(hops, strings.Trim(val, `"`))
				}
			}
		}
	}
	return hops
}

// hopAddr reads one hop: an address, with or without a port, IPv6 in
// brackets with a port.
func hopAddr(h string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
	return a.Unmap(), err == nil
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Files serves the files of fsys at the paths under prefix. A name no file
// can have (bytes that are not UTF-8) is a 404 like any missing file:
// http.FileServerFS over an fs.Sub answers it with a 500.
func Files(prefix string, fsys fs.FS) http.Handler {
	files := http.StripPrefix(prefix, http.FileServerFS(fsys))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(r.URL.Path, prefix)), "/")
		if name != "" && !fs.ValidPath(name) {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}
