package strictyaml_test

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/ai-model-registry/ai-model-registry/strictyaml"
)

// A caller's walk decodes each key it knows with the typed functions and
// refuses the rest; Decode has already refused anchors, tags and a second
// document.
func ExampleFormat_Decode() {
	format := strictyaml.Format{Noun: "mirror list", Needs: "at least name", Holds: "name and mirrors", MaxBytes: 64 << 10}
	read := func(text string) {
		var name string
		var mirrors []string
		e := format.Decode([]byte(text), func(top *yaml.Node) *strictyaml.Error {
			return strictyaml.Mapping(top, strictyaml.TopLevel, func(key string, k, v *yaml.Node) *strictyaml.Error {
				var e *strictyaml.Error
				switch key {
				case "name":
					name, e = strictyaml.String(v, key)
				case "mirrors":
					e = strictyaml.Sequence(v, key, 8, func(i int, item *yaml.Node) *strictyaml.Error {
						s, e := strictyaml.String(item, fmt.Sprintf("mirrors[%d]", i))
						mirrors = append(mirrors, s)
						return e
					})
				default:
					e = strictyaml.Errorf(k.Line, "unknown field %s", strictyaml.Show(key))
				}
				return e
			})
		})
		if e != nil {
			e.File = "mirrors.yaml"
			fmt.Println(e)
			return
		}
		fmt.Println(name, mirrors)
	}
	read("name: eu\nmirrors: [a.example, b.example]\n")
	read("name: eu\nmirrors: [a.example, 8080]\n")
	read("name: eu\nname: us\n")
	read("name: &n eu\n")
	read("name: eu\n---\nname: us\n")
	// Output:
	// eu [a.example b.example]
	// mirrors.yaml line 2: mirrors[1]: want a string, got int "8080" (quote it if it is meant as text)
	// mirrors.yaml line 2: duplicate key "name" in top level (first on line 1)
	// mirrors.yaml line 1: name: anchor &n: anchors and aliases are not allowed
	// mirrors.yaml line 2: a second YAML document starts here; a mirror list is exactly one document
}
