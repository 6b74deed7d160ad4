package main

import (
	"net"
	"testing"
)

// TestMetricsTokenRequired: METRICS_REQUIRE_TOKEN wins; unset, a token is
// needed exactly when the listener reaches beyond this host.
func TestMetricsTokenRequired(t *testing.T) {
	yes, no := true, false
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 8470} }
	for _, tc := range []struct {
		set  *bool
		addr net.Addr
		want bool
	}{
		{nil, tcp("127.0.0.1"), false},
		{nil, tcp("::1"), false},
		{nil, &net.UnixAddr{Name: "/run/registry.sock", Net: "unix"}, false},
		{nil, tcp("0.0.0.0"), true},
		{nil, tcp("192.0.2.10"), true},
		{nil, tcp("::"), true},
		{&yes, tcp("127.0.0.1"), true},
		{&no, tcp("0.0.0.0"), false},
	} {
		if got := metricsTokenRequired(tc.set, tc.addr); got != tc.want {
			t.Errorf("metricsTokenRequired(%v, %s) = %v, want %v", tc.set, tc.addr, got, tc.want)
		}
	}
}
