package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClientBehindProxies(t *testing.T) {
	proxies, err := ParseProxies("10.0.0.0/8, 192.168.1.1")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		proxies Proxies
		peer    string
		header  map[string][]string
		want    string
	}{
		{"no proxies: headers ignored", nil, "203.0.113.9:5000", map[string][]string{"X-Forwarded-For": {"1.2.3.4"}}, "203.0.113.9"},
		{"untrusted peer: headers ignored", proxies, "203.0.113.9:5000", map[string][]string{"X-Forwarded-For": {"1.2.3.4"}}, "203.0.113.9"},
		{"one trusted hop", proxies, "10.1.2.3:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.7"}}, "198.51.100.7"},
		{"a spoofed left part is not read", proxies, "10.1.2.3:5000", map[string][]string{"X-Forwarded-For": {"6.6.6.6, 198.51.100.7"}}, "198.51.100.7"},
		{"two trusted hops", proxies, "10.1.2.3:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.7, 192.168.1.1", "10.9.9.9"}}, "198.51.100.7"},
		{"all hops trusted: the leftmost", proxies, "10.1.2.3:5000", map[string][]string{"X-Forwarded-For": {"10.4.4.4, 10.5.5.5"}}, "10.4.4.4"},
		{"garbage stops at the nearest trusted hop", proxies, "10.1.2.3:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.7, nonsense"}}, "10.1.2.3"},
		{"trusted peer without a header", proxies, "10.1.2.3:5000", nil, "10.1.2.3"},
		{"Forwarded wins", proxies, "10.1.2.3:5000", map[string][]string{"Forwarded": {`for=192.0.2.60;proto=https, for="[2001:db8:cafe::17]:4711"`}, "X-Forwarded-For": {"1.1.1.1"}}, "2001:db8:cafe::17"},
		{"Forwarded with a port", proxies, "10.1.2.3:5000", map[string][]string{"Forwarded": {`for="192.0.2.60:8443"`}}, "192.0.2.60"},
		{"IPv4-mapped peer", proxies, "[::ffff:10.1.2.3]:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.7"}}, "198.51.100.7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for k, vs := range tc.header {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			var got string
			tc.proxies.Resolve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = ClientIP(r) })).ServeHTTP(httptest.NewRecorder(), r)
			if got != tc.want {
				t.Errorf("client = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestParseProxiesRefusesGarbage(t *testing.T) {
	if _, err := ParseProxies("10.0.0.0/8,not-a-network"); err == nil {
		t.Fatal("a bad CIDR was accepted")
	}
}
