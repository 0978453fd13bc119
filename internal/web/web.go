// Package web holds what Usher's three HTTP edges (the API, the hosted
// pages and the dashboard) each need the same way: who is calling, and
// writing a JSON answer.
package web

import (
	"encoding/json"
	"net"
	"net/http"
)

// ClientIP is the address of whoever sent r: the peer of the connection.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
