// Package ui is the operator page: a small, read-only HTML view of the
// registry served at / and /ui/ — the artifacts with their state, an
// artifact's history chain and promotion attestation, the last integrity
// check and, for admins, the tail of the audit log.
//
// Pages are rendered on the server with html/template from embedded files,
// so they work with JavaScript off and need nothing from outside the
// registry; a strict Content-Security-Policy forbids inline scripts and
// styles. Without a token the page lists what runtimes may load anyway (the
// trusted artifacts); a token typed into its sign-in form opens a server-side
// session whose id is an HttpOnly, SameSite=Strict cookie scoped to /ui.
//
// It must never change anything in the registry, never put a token in a URL
// or a page, and never keep a token after the sign-in request has checked it.
package ui
