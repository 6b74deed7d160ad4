package lockfile

// Version is the only lock format version this package reads and writes.
const Version = 1

// Formats an entry may have; the filename's extension (compared
// lower-cased) must name the same format, as in the predecessor.
const (
	FormatGGUF        = "gguf"
	FormatSafetensors = "safetensors"
)

// States an entry may carry. StateUnset (the key is absent) does not mean
// trusted: the registry trusts such an entry only when its file is present
// and hashes to the entry's sha256.
const (
	StateUnset       = ""
	StateAcquired    = "acquired"
	StateQuarantined = "quarantined"
	StateTrusted     = "trusted"
	StateRevoked     = "revoked"
	StateDeleted     = "deleted"
)

// Limits. The evidence-map, string and fingerprint limits are the
// predecessor's (HEAD) artifact limits; MaxInputBytes and MaxEntries are
// its manifest.json limits.
const (
	MaxInputBytes = 16 << 20 // the whole lock file
	MaxEntries    = 100_000  // entries under models

	MaxNameBytes          = 256
	MaxPathBytes          = 4096 // filename, object_path, gguf_guard_manifest
	MaxSourceBytes        = 4096
	MaxRevisionBytes      = 256 // source_revision
	MaxPolicyBytes        = 256 // policy_version
	MaxPromotedAtBytes    = 64
	MaxBlockedReasonBytes = 1024

	// scan_results and scanner_versions.
	MaxEvidenceEntries    = 64
	MaxEvidenceKeyBytes   = 256
	MaxEvidenceValueBytes = 1024

	// gguf_guard_fingerprint. The fingerprint mapping itself is depth 1;
	// every value (mappings and sequences included) counts as a node.
	MaxFingerprintDepth       = 32
	MaxFingerprintNodes       = 10_000
	MaxFingerprintFanout      = 4096 // entries of one mapping or sequence
	MaxFingerprintStringBytes = 4096 // one key or string value
)

// Lock is a parsed models.lock.yaml. In canonical form (what Parse
// returns) Models is sorted by Name and nil when empty.
type Lock struct {
	// Version is always 1 (the `version` key is required).
	Version int `json:"version"`
	// Models is the `models` key (required; `models: []` for none).
	Models []Entry `json:"models"`
}

// Entry is one model of the lock, with exactly the predecessor's artifact
// keys plus the appliance's blocked and blocked_reason. "Used" below says
// what the registry is meant to act on when it applies the lock (issue 4);
// "carried" fields are kept as evidence and written back on export but
// decide nothing; "ignored" fields are accepted for compatibility only.
//
// In canonical form empty maps are nil. String fields hold text only: no
// control characters, no bidirectional formatting characters, no U+2028,
// U+2029, U+FEFF, U+FFFE or U+FFFF.
type Entry struct {
	// Name identifies the model; unique in the lock, 1–256 bytes, no
	// leading or trailing space. Used: the key the lock is applied by.
	Name string `json:"name"`
	// Format is "gguf" or "safetensors" and must match Filename's
	// extension. Used: checked against the file's magic bytes.
	Format string `json:"format"`
	// Source is where the model came from (≤4096 bytes). Carried.
	Source string `json:"source,omitempty"`
	// SourceRevision pins the upstream revision (≤256 bytes). Carried.
	SourceRevision string `json:"source_revision,omitempty"`
	// Filename is the file's path relative to the import directory:
	// relative, clean, no "..", no backslash; unique among entries whose
	// state is not deleted. Used: where the bytes are looked up at boot.
	Filename string `json:"filename"`
	// ObjectPath is the predecessor's content-addressed location
	// ("objects/sha256/<hex[:2]>/<hex>.<format>"). Ignored: the registry
	// stores blobs by digest itself. It is still checked against SHA256
	// and Format when present, as the predecessor did, so an edited
	// digest with a stale path is caught.
	ObjectPath string `json:"object_path,omitempty"`
	// SHA256 is the file's digest, 64 lowercase hex digits. Used: the
	// bytes must hash to it before the entry is trusted.
	SHA256 string `json:"sha256"`
	// SizeBytes is the file's size (≥ 0, required). Used: a file of
	// another size is wrong without being hashed.
	SizeBytes int64 `json:"size_bytes"`
	// State is one of the State* constants. Used: revoked and deleted
	// override runtime state; trusted is honoured only for matching
	// bytes; unset is not trusted by itself.
	State string `json:"state,omitempty"`
	// PromotedAt is an RFC 3339 time (the predecessor's misnamed time of
	// the last create or promote). Carried.
	PromotedAt string `json:"promoted_at,omitempty"`
	// ScanResults maps a scanner to its verdict (≤64 entries, keys
	// 1–256 bytes, values ≤1024 bytes, strings only). Carried.
	ScanResults map[string]string `json:"scan_results,omitempty"`
	// ScannerVersions maps a scanner to its version, same limits as
	// ScanResults. Carried.
	ScannerVersions map[string]string `json:"scanner_versions,omitempty"`
	// PolicyVersion names the promotion policy (≤256 bytes). Carried.
	PolicyVersion string `json:"policy_version,omitempty"`
	// GGUFGuardFingerprint is an arbitrary mapping kept as JSON-compatible
	// values: string, bool, nil, int64, float64 (finite), []any and
	// map[string]any; depth ≤32, ≤10,000 values, ≤4096 entries per
	// collection, strings ≤4096 bytes. Ignored for decisions: the
	// registry recomputes its per-tensor manifest from the bytes.
	GGUFGuardFingerprint map[string]any `json:"gguf_guard_fingerprint,omitempty"`
	// GGUFGuardManifest is the predecessor's manifest path (≤4096 bytes).
	// Ignored for decisions, like the fingerprint.
	GGUFGuardManifest string `json:"gguf_guard_manifest,omitempty"`
	// Blocked marks a model that must never be served, whatever its state
	// or bytes. blocked: true with state trusted is refused as a
	// contradiction. Used.
	Blocked bool `json:"blocked,omitempty"`
	// BlockedReason says why (≤1024 bytes); only allowed with Blocked.
	// Used: recorded as the reason of the lifecycle transition.
	BlockedReason string `json:"blocked_reason,omitempty"`
}
