package policy

import "strings"

// Test keys, made with openssl genpkey / pkey -pubout. Only the public
// halves are here, except privEd25519, which is there to be refused.
const (
	pubECDSA = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4Q2pz6gvR/PxGKf9bEwPTL58t2bf
keI14PwL9ZHXcixj923kWgjlRoqujKWRzk//u+BDTjGtKsLHvP06kbjLXw==
-----END PUBLIC KEY-----
`
	pubEd25519 = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAhH+zFB8dsqPEYvg+Z6srOr4VYKSXY7+S7IQ5N19WN3A=
-----END PUBLIC KEY-----
`
	pubRSA2048 = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2OfSzG8AQ2o6cK/77D8E
D4HFwp1cFEijAsNjyoJpYocfR5yf8O2DqUVPVmx3R2NydTs/z9zPK5QMJXzStFWG
UaYIvl3Y5V9OQYoJnvaFkJ91jKzKIbz0LUWOHD0gIp5hmdCr2+mzlsQidzhg5dfX
l/yBz8IVcwy8MgBCXQS2uII+7+v8e2KVaBfqOn/tU3s8tsBB/6LygOirooZXZZvE
Xxmu2wVM9dDYtn/7Flv26LAkeiMZ95+Ib0BFyjCT4b7er2p2jdGGOXwlGFYY+piP
e5U8oZ0g+ZWHuYI3GzRJYD9+FmTTrCDRllREze15xhIVbIS7EtGukXUfkLMH2e+J
cQIDAQAB
-----END PUBLIC KEY-----
`
	pubRSA1024 = `-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDrXoFPpmqEVXjZUk5r2zVGPuzx
SFqSSQmewDZR013tlh2kaHaZFO6eOVbuGSgrrDj9Vz+PnCI8Ygl2v5sd6AOHYzWZ
Aiz5OlhQ94fPOWVjVviHsq7BRM0Kem+v1gIgwLsedR4AiyBHtvlnMac/dlddGqiP
pV7Xe0L+mkXc00MiRwIDAQAB
-----END PUBLIC KEY-----
`
	privEd25519 = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIGJlFwFAip4YDfuiCAlq/feaswSk6eWtDbvXp7FAODCL
-----END PRIVATE KEY-----
`
)

// block indents a multi-line value as a YAML literal block under a key
// at the given indent: "public_key: |" then the lines.
func block(indent, text string) string {
	var b strings.Builder
	b.WriteString("|\n")
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		b.WriteString(indent + l + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}
