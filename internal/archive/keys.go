package archive

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxKeyLen is the longest key, in bytes (S3's limit).
const MaxKeyLen = 1024

// CheckKey returns nil if key is a clean relative path, or an error wrapping ErrBadKey: not
// empty, at most MaxKeyLen bytes of valid UTF-8 with no NUL or other control character, not
// starting with "/", and made of non-empty segments separated by "/" none of which is "." or
// ".." or starts with "." (names starting with "." are the local backend's temporary files).
func CheckKey(key string) error {
	if err := checkChars(key); err != nil {
		return fmt.Errorf("%w %q: %s", ErrBadKey, key, err.msg)
	}
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrBadKey)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if msg := checkSegment(seg); msg != "" {
			return fmt.Errorf("%w %q: %s", ErrBadKey, key, msg)
		}
	}
	return nil
}

// checkPrefix checks a List prefix: "" or a key's beginning. Its complete segments (those
// before the last "/") follow CheckKey's rules; the last, partial one may be anything without
// a control character.
func checkPrefix(prefix string) error {
	if err := checkChars(prefix); err != nil {
		return fmt.Errorf("%w: prefix %q: %s", ErrBadKey, prefix, err.msg)
	}
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return nil
	}
	for seg := range strings.SplitSeq(prefix[:i], "/") {
		if msg := checkSegment(seg); msg != "" {
			return fmt.Errorf("%w: prefix %q: %s", ErrBadKey, prefix, msg)
		}
	}
	return nil
}

// keyError is the reason a key's characters are refused.
type keyError struct{ msg string }

// checkChars checks what CheckKey and checkPrefix require of every character.
func checkChars(s string) *keyError {
	if len(s) > MaxKeyLen {
		return &keyError{fmt.Sprintf("longer than %d bytes", MaxKeyLen)}
	}
	if !utf8.ValidString(s) {
		return &keyError{"not valid UTF-8"}
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return &keyError{"control character (NUL included)"}
		}
	}
	return nil
}

// checkSegment returns why seg cannot be a segment of a key, or "".
func checkSegment(seg string) string {
	switch {
	case seg == "":
		return "empty segment (leading, trailing or double \"/\")"
	case seg == "." || seg == "..":
		return "\".\" or \"..\" segment"
	case seg[0] == '.':
		return "segment starting with \".\""
	}
	return ""
}
