// Package strictyaml reads the YAML files operators write and the
// registry acts on (models.lock.yaml, policy.yaml) so that a file can
// only mean what it looks like: anchors, aliases (and with them "billion
// laughs"), explicit tags, merge keys, a second document, duplicate keys
// in any mapping and values of another YAML type than the one asked for
// are refused, each with an *Error naming the line at fault. yaml.v3's
// own syntax errors get the line of the offending text too, found by
// re-parsing prefixes of the input; that search is capped at 256 KiB of
// input so a large broken file stays cheap to refuse.
//
// The raw bytes are checked before YAML parsing: invalid UTF-8, control
// characters, a lone CR and Unicode bidirectional formatting characters
// ("Trojan Source") are refused everywhere, comments included, because a
// reviewer must see what the parser reads.
//
// The package hands the caller plain nodes and typed scalars; what a key
// means is the caller's walk. It must never expand an alias, turn a value
// into another type than it is written as ("1" is not 1, yes is not
// true), or name a line past the end of the input.
package strictyaml
