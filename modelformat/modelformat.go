// Package modelformat recognises model file formats from their bytes. The
// registry decides what a file is from its content, never from its name
// alone: a pickle renamed to .gguf is still a pickle.
package modelformat

import (
	"bytes"
	"encoding/binary"
	"path"
	"strings"
)

// Formats the registry recognises.
const (
	GGUF        = "gguf"
	Safetensors = "safetensors"
	ONNX        = "onnx"
	PyTorch     = "pytorch" // torch.save zip archive or a bare pickle: can run code when loaded
	Unknown     = ""
)

// HeaderSize is how many leading bytes Detect needs.
const HeaderSize = 64

// maxSafetensorsHeader is the safetensors reader's own cap (100 MB).
const maxSafetensorsHeader = 100_000_000

// Detect identifies a format from the first HeaderSize bytes of a file.
func Detect(h []byte) string {
	switch {
	case len(h) >= 8 && bytes.Equal(h[:4], []byte("GGUF")):
		v := binary.LittleEndian.Uint32(h[4:8])
		if v >= 1 && v <= 3 {
			return GGUF
		}
	case len(h) >= 9 && h[8] == '{' && binary.LittleEndian.Uint64(h[:8]) >= 2 && binary.LittleEndian.Uint64(h[:8]) <= maxSafetensorsHeader:
		return Safetensors
	case len(h) >= 4 && bytes.Equal(h[:4], []byte("PK\x03\x04")):
		return PyTorch // torch.save writes a zip whose data.pkl is a pickle
	case len(h) >= 2 && h[0] == 0x80 && h[1] >= 2 && h[1] <= 5:
		return PyTorch // pickle protocol 2-5
	case looksLikeONNX(h):
		return ONNX
	}
	return Unknown
}

// looksLikeONNX recognises a serialized onnx.ModelProto: it starts with
// field 1 (ir_version, varint, tag 0x08) holding a small version number,
// followed by another field of the message.
func looksLikeONNX(h []byte) bool {
	if len(h) < 3 || h[0] != 0x08 || h[1] == 0 || h[1] > 20 {
		return false
	}
	switch h[2] { // producer_name(2), producer_version(3), domain(4), model_version(5), doc_string(6), graph(7), opset_import(8)
	case 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42:
		return true
	}
	return false
}

// FromName returns the format a file name claims by its extension, or
// Unknown.
func FromName(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".gguf":
		return GGUF
	case ".safetensors":
		return Safetensors
	case ".onnx":
		return ONNX
	case ".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle":
		return PyTorch
	}
	return Unknown
}
