package tensormanifest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// MediaType is the artifactType of the referrer that stores a manifest, and
// the media type of its JSON blob.
const MediaType = "application/vnd.aimr.tensor-manifest.v1+json"

// Version is the manifest format version.
const Version = "aimr-tensor-manifest-1"

// Manifest describes a model file tensor by tensor.
type Manifest struct {
	ManifestVersion string `json:"manifest_version"`
	Format          string `json:"format"` // gguf or safetensors
	FileHash        string `json:"file_hash"`
	FileSize        int64  `json:"file_size"`
	// StructureHash covers names, shapes and types (sorted by name), as
	// the predecessor's gguf-guard defined it.
	StructureHash string `json:"structure_hash"`
	// MetadataHash covers every metadata entry's hash, in file order.
	MetadataHash string `json:"metadata_hash"`
	Architecture string `json:"architecture,omitempty"`
	QuantType    string `json:"quant_type,omitempty"` // the most frequent tensor type
	GGUFVersion  uint32 `json:"gguf_version,omitempty"`
	Alignment    uint64 `json:"alignment,omitempty"`
	DataOffset   int64  `json:"data_offset"`
	TensorCount  int    `json:"tensor_count"`
	Parameters   uint64 `json:"parameters"`
	// MerkleRoot: leaves SHA-256(0x00 || tensor hash), nodes
	// SHA-256(0x01 || left || right), an odd node carried up unchanged.
	MerkleRoot string     `json:"merkle_root"`
	Metadata   []Metadata `json:"metadata"`
	Tensors    []Tensor   `json:"tensors"`
}

// Metadata is one metadata key/value. Hash is SHA-256 over the key, the
// value's type and its exact encoded bytes, so a changed chat template or
// tokenizer is named by its key.
type Metadata struct {
	Key  string `json:"key"`
	Type string `json:"type"`
	Hash string `json:"hash"`
	Size int    `json:"size"` // encoded value bytes
}

// Tensor is one tensor. Offset is absolute in the file.
type Tensor struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Shape    []uint64 `json:"shape"`
	Offset   int64    `json:"offset"`
	DataSize uint64   `json:"data_size"`
	Elements uint64   `json:"element_count"`
	Hash     string   `json:"hash"`
}

func hexSum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// metadataHash hashes one entry with a domain tag and length prefixes, so
// no two different (key, type, value) triples share an input.
func metadataHash(key, typ string, raw []byte) string {
	h := sha256.New()
	h.Write([]byte("aimr-kv\x00"))
	for _, part := range [][]byte{[]byte(key), []byte(typ), raw} {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// finish fills the derived fields.
func (m *Manifest) finish() {
	m.ManifestVersion = Version
	m.TensorCount = len(m.Tensors)
	counts := map[string]int{}
	var lines []string
	leaves := make([][]byte, 0, len(m.Tensors))
	m.Parameters = 0
	for _, t := range m.Tensors {
		m.Parameters += t.Elements
		counts[t.Type]++
		dims := make([]string, len(t.Shape))
		for i, d := range t.Shape {
			dims[i] = fmt.Sprint(d)
		}
		lines = append(lines, fmt.Sprintf("%s:[%s]:%s\n", t.Name, strings.Join(dims, ","), t.Type))
		h, _ := hex.DecodeString(t.Hash)
		leaves = append(leaves, h)
	}
	slices.Sort(lines)
	m.StructureHash = hexSum([]byte(strings.Join(lines, "")))
	best := 0
	for typ, n := range counts {
		if n > best || (n == best && typ < m.QuantType) {
			m.QuantType, best = typ, n
		}
	}
	mh := sha256.New()
	mh.Write([]byte("aimr-metadata\x00"))
	for _, kv := range m.Metadata {
		b, _ := hex.DecodeString(kv.Hash)
		mh.Write(b)
	}
	m.MetadataHash = hex.EncodeToString(mh.Sum(nil))
	m.MerkleRoot = merkleRoot(leaves)
}

// merkleRoot uses distinct prefixes for leaves and nodes (so a node can
// never be passed off as a leaf) and carries an odd node up unchanged
// (duplicating it would let two different lists share a root).
func merkleRoot(leaves [][]byte) string {
	if len(leaves) == 0 {
		return ""
	}
	level := make([][]byte, len(leaves))
	for i, l := range leaves {
		s := sha256.Sum256(append([]byte{0x00}, l...))
		level[i] = s[:]
	}
	for len(level) > 1 {
		var next [][]byte
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			in := append(append([]byte{0x01}, level[i]...), level[i+1]...)
			s := sha256.Sum256(in)
			next = append(next, s[:])
		}
		level = next
	}
	return hex.EncodeToString(level[0])
}
