package modelformat

import (
	"encoding/binary"
	"testing"
)

func TestDetect(t *testing.T) {
	st := make([]byte, 8)
	binary.LittleEndian.PutUint64(st, 60)
	st = append(st, []byte(`{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}`)...)
	for _, tc := range []struct {
		name string
		h    []byte
		want string
	}{
		{"gguf v3", []byte("GGUF\x03\x00\x00\x00\x00\x00\x00\x00"), GGUF},
		{"gguf bad version", []byte("GGUF\x00\x00\x00\x03"), Unknown},
		{"safetensors", st, Safetensors},
		{"safetensors header too large", append([]byte{0, 0, 0, 0, 0, 0, 0, 1}, '{'), Unknown},
		{"torch zip", []byte("PK\x03\x04\x00\x00"), PyTorch},
		{"pickle protocol 4", []byte{0x80, 0x04, 0x95}, PyTorch},
		{"onnx", []byte{0x08, 0x07, 0x12, 0x07, 'p', 'y', 't', 'o', 'r', 'c', 'h'}, ONNX},
		{"text", []byte("hello world"), Unknown},
		{"empty", nil, Unknown},
	} {
		if got := Detect(tc.h); got != tc.want {
			t.Errorf("%s: Detect = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestFromName(t *testing.T) {
	for name, want := range map[string]string{"m.GGUF": GGUF, "a/b.safetensors": Safetensors, "x.onnx": ONNX, "w.bin": PyTorch, "README.md": Unknown, "noext": Unknown} {
		if got := FromName(name); got != want {
			t.Errorf("FromName(%q) = %q, want %q", name, got, want)
		}
	}
}
