package tensormanifest

import (
	"fmt"
	"slices"
)

// Change is one difference between a stored manifest and the bytes now.
type Change struct {
	Kind string `json:"kind"` // tensor_changed, tensor_added, tensor_missing, tensor_type, tensor_shape, tensor_offset, tensor_order, metadata_changed, metadata_added, metadata_missing, file
	Name string `json:"name"` // tensor name or metadata key
	Was  string `json:"was,omitempty"`
	Now  string `json:"now,omitempty"`
}

func (c Change) String() string {
	switch c.Kind {
	case "tensor_changed":
		return fmt.Sprintf("tensor %q: data changed (sha256 %s, was %s)", c.Name, short(c.Now), short(c.Was))
	case "tensor_added":
		return fmt.Sprintf("tensor %q: added", c.Name)
	case "tensor_missing":
		return fmt.Sprintf("tensor %q: missing", c.Name)
	case "tensor_type", "tensor_shape", "tensor_offset", "tensor_order":
		return fmt.Sprintf("tensor %q: %s changed from %s to %s", c.Name, c.Kind[len("tensor_"):], c.Was, c.Now)
	case "metadata_changed":
		return fmt.Sprintf("metadata %q: value changed", c.Name)
	case "metadata_added":
		return fmt.Sprintf("metadata %q: added", c.Name)
	case "metadata_missing":
		return fmt.Sprintf("metadata %q: missing", c.Name)
	}
	return fmt.Sprintf("file: %s changed from %s to %s", c.Name, c.Was, c.Now)
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}

// Compare lists every difference between what was stored (want) and what
// the bytes are now (got). An empty list means the file is unchanged in
// every tensor, every metadata entry and its layout.
func Compare(want, got *Manifest) []Change {
	var out []Change
	wantT := map[string]int{}
	for i, t := range want.Tensors {
		wantT[t.Name] = i
	}
	gotT := map[string]int{}
	for i, t := range got.Tensors {
		gotT[t.Name] = i
	}
	for _, w := range want.Tensors {
		gi, ok := gotT[w.Name]
		if !ok {
			out = append(out, Change{Kind: "tensor_missing", Name: w.Name})
			continue
		}
		g := got.Tensors[gi]
		if g.Type != w.Type {
			out = append(out, Change{Kind: "tensor_type", Name: w.Name, Was: w.Type, Now: g.Type})
		}
		if !slices.Equal(g.Shape, w.Shape) {
			out = append(out, Change{Kind: "tensor_shape", Name: w.Name, Was: fmt.Sprint(w.Shape), Now: fmt.Sprint(g.Shape)})
		}
		if g.Offset != w.Offset {
			out = append(out, Change{Kind: "tensor_offset", Name: w.Name, Was: fmt.Sprint(w.Offset), Now: fmt.Sprint(g.Offset)})
		}
		if wi := wantT[w.Name]; wi != gi {
			out = append(out, Change{Kind: "tensor_order", Name: w.Name, Was: fmt.Sprintf("position %d", wi), Now: fmt.Sprintf("position %d", gi)})
		}
		if g.Hash != w.Hash {
			out = append(out, Change{Kind: "tensor_changed", Name: w.Name, Was: w.Hash, Now: g.Hash})
		}
	}
	for _, g := range got.Tensors {
		if _, ok := wantT[g.Name]; !ok {
			out = append(out, Change{Kind: "tensor_added", Name: g.Name})
		}
	}
	wantM := map[string]Metadata{}
	for _, kv := range want.Metadata {
		wantM[kv.Key] = kv
	}
	gotM := map[string]bool{}
	for _, kv := range got.Metadata {
		gotM[kv.Key] = true
		w, ok := wantM[kv.Key]
		switch {
		case !ok:
			out = append(out, Change{Kind: "metadata_added", Name: kv.Key})
		case w.Hash != kv.Hash || w.Type != kv.Type:
			out = append(out, Change{Kind: "metadata_changed", Name: kv.Key, Was: w.Hash, Now: kv.Hash})
		}
	}
	for _, kv := range want.Metadata {
		if !gotM[kv.Key] {
			out = append(out, Change{Kind: "metadata_missing", Name: kv.Key})
		}
	}
	if want.Format != got.Format {
		out = append(out, Change{Kind: "file", Name: "format", Was: want.Format, Now: got.Format})
	}
	if want.FileSize != got.FileSize {
		out = append(out, Change{Kind: "file", Name: "size", Was: fmt.Sprint(want.FileSize), Now: fmt.Sprint(got.FileSize)})
	}
	if len(out) == 0 && want.FileHash != got.FileHash {
		// Every tensor and key is the same but the bytes are not: padding
		// or bytes outside any tensor changed.
		out = append(out, Change{Kind: "file", Name: "bytes outside tensors and metadata", Was: short(want.FileHash), Now: short(got.FileHash)})
	}
	return out
}
