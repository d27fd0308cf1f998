package route

import "strings"

// firstKeyword returns the first word of a statement in lower case, skipping white space and
// comments as MySQL does. The body of a /*! ... */ or /*!NNNNN ... */ comment is code to
// MySQL, so it is scanned, not skipped. A statement that opens with a parenthesis yields "(";
// one that opens with anything else that is not a word yields that character.
func firstKeyword(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case isSpace(c):
			i++
		case c == '#':
			i = lineEnd(s, i)
		case c == '-' && strings.HasPrefix(s[i:], "--") && (i+2 == len(s) || s[i+2] <= ' '):
			i = lineEnd(s, i)
		case strings.HasPrefix(s[i:], "/*!"):
			i += 3
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return ""
			}
			i += 2 + end + 2
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			return strings.ToLower(s[i:j])
		default:
			return s[i : i+1]
		}
	}
	return ""
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$'
}

func lineEnd(s string, i int) int {
	if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(s)
}

// readKeyword reports whether a statement opening with keyword kw can be a read. It is the
// last guard before a statement goes to an RO: whatever the parser made of the text, a
// statement whose first keyword is not one of these goes to the RW.
func readKeyword(kw string) bool {
	switch kw {
	case "select", "with", "show", "explain", "describe", "desc", "table", "values", "(":
		return true
	}
	return false
}

// wordsOf returns the lower-case words of s outside comments and quotes, enough to find the
// keywords of a statement the parser rejected (XA START, COMMIT AND CHAIN).
func wordsOf(s string, max int) []string {
	var words []string
	for i := 0; i < len(s) && len(words) < max; {
		c := s[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
		case c == '#':
			i = lineEnd(s, i)
		case strings.HasPrefix(s[i:], "/*") && !strings.HasPrefix(s[i:], "/*!"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return words
			}
			i += 2 + end + 2
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			words = append(words, strings.ToLower(s[i:j]))
			i = j
		default:
			i++
		}
	}
	return words
}
