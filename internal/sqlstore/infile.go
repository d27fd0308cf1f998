package sqlstore

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// infileReader reads the lines of a LOAD DATA file as MySQL does (sql_load.cc's READ_INFO):
// a terminator preceded by the escape character is data, an escape sequence stands for one
// character (\0 \b \n \r \t \Z, and any other character for itself), a field that is
// exactly \N is NULL, and a field may be enclosed (a doubled enclosing character in it is
// one). GMS's parser split lines and fields before it looked at escapes and then deleted
// every escape character, so \t was read as t and an escaped terminator split the field.
type infileReader struct {
	r         *bufio.Reader
	fieldTerm []byte
	lineTerm  []byte
	lineStart []byte
	enclosed  int // the enclosing character, or -1
	escape    int // the escape character, or -1
	eof       bool
}

// infileField is one field of a line; null is set for a NULL field.
type infileField struct {
	val  string
	null bool
}

// newInfileReader reads r with the given FIELDS and LINES options (a one-character string,
// or "" for none, for enclosed and escape).
func newInfileReader(r io.Reader, fieldTerm, enclosed, escape, lineStart, lineTerm string) *infileReader {
	ir := &infileReader{r: bufio.NewReaderSize(r, 64<<10), fieldTerm: []byte(fieldTerm),
		lineTerm: []byte(lineTerm), lineStart: []byte(lineStart), enclosed: -1, escape: -1}
	if enclosed != "" {
		ir.enclosed = int(enclosed[0])
	}
	if escape != "" {
		ir.escape = int(escape[0])
	}
	return ir
}

// at reports whether the input continues with term (non-empty), and consumes it if so.
func (ir *infileReader) at(term []byte) (bool, error) {
	if len(term) == 0 {
		return false, nil
	}
	b, err := ir.r.Peek(len(term))
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	if !bytes.Equal(b, term) {
		return false, nil
	}
	_, _ = ir.r.Discard(len(term))
	return true, nil
}

// unescape returns the character an escape sequence stands for.
func unescape(c byte) byte {
	switch c {
	case '0':
		return 0
	case 'b':
		return '\b'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'Z':
		return 26
	}
	return c
}

// skipToLineStart discards input up to and including the LINES STARTING BY prefix; false
// when the input ends first.
func (ir *infileReader) skipToLineStart() (bool, error) {
	for {
		ok, err := ir.at(ir.lineStart)
		if ok || err != nil {
			return ok, err
		}
		if _, err := ir.r.ReadByte(); err != nil {
			if errors.Is(err, io.EOF) {
				return false, nil
			}
			return false, err
		}
	}
}

// skipLine discards the rest of the current line.
func (ir *infileReader) skipLine() error {
	for {
		if ok, err := ir.at(ir.lineTerm); ok || err != nil {
			return err
		}
		c, err := ir.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				ir.eof = true
				return nil
			}
			return err
		}
		if int(c) == ir.escape {
			if _, err := ir.r.ReadByte(); err != nil && !errors.Is(err, io.EOF) {
				return err
			}
		}
	}
}

// next returns the fields of the next line; io.EOF when there are no more lines. A line
// without the LINES STARTING BY prefix is skipped, as in MySQL.
func (ir *infileReader) next() ([]infileField, error) {
	for {
		if ir.eof {
			return nil, io.EOF
		}
		if _, err := ir.r.Peek(1); errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		if len(ir.lineStart) > 0 {
			ok, err := ir.skipToLineStart()
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, io.EOF
			}
		}
		fields, err := ir.readLine()
		if err != nil {
			return nil, err
		}
		if len(fields) == 1 && !fields[0].null && fields[0].val == "" {
			continue // an empty line
		}
		return fields, nil
	}
}

// readLine reads fields up to the end of the line.
func (ir *infileReader) readLine() ([]infileField, error) {
	var fields []infileField
	for {
		f, endLine, err := ir.readField()
		if err != nil {
			return nil, err
		}
		fields = append(fields, f)
		if endLine {
			return fields, nil
		}
	}
}

// readField reads one field and the terminator after it; endLine is set when the line
// (or the input) ends after the field.
func (ir *infileReader) readField() (f infileField, endLine bool, err error) {
	var buf []byte
	enclosed := false
	if ir.enclosed >= 0 {
		if b, perr := ir.r.Peek(1); perr == nil && int(b[0]) == ir.enclosed {
			_, _ = ir.r.Discard(1)
			enclosed = true
		}
	}
	escaped := 0 // escape sequences read, to tell \N from a field "N"
	for {
		if !enclosed {
			if ok, err := ir.at(ir.fieldTerm); ok || err != nil {
				return ir.field(buf, escaped, false), false, err
			}
			if ok, err := ir.at(ir.lineTerm); ok || err != nil {
				return ir.field(buf, escaped, false), true, err
			}
		}
		c, err := ir.r.ReadByte()
		if errors.Is(err, io.EOF) {
			ir.eof = true
			return ir.field(buf, escaped, enclosed), true, nil
		}
		if err != nil {
			return f, false, err
		}
		switch {
		case int(c) == ir.escape:
			n, err := ir.r.ReadByte()
			if errors.Is(err, io.EOF) {
				buf = append(buf, c)
				continue
			}
			if err != nil {
				return f, false, err
			}
			if n == 'N' && len(buf) == 0 && !enclosed {
				escaped++
				buf = append(buf, 'N')
				continue
			}
			escaped += 2 // not a lone \N
			buf = append(buf, unescape(n))
		case enclosed && int(c) == ir.enclosed:
			if b, perr := ir.r.Peek(1); perr == nil && int(b[0]) == ir.enclosed {
				_, _ = ir.r.Discard(1)
				buf = append(buf, c)
				continue
			}
			if ok, err := ir.at(ir.fieldTerm); ok || err != nil {
				return ir.field(buf, escaped, true), false, err
			}
			if ok, err := ir.at(ir.lineTerm); ok || err != nil {
				return ir.field(buf, escaped, true), true, err
			}
			if _, perr := ir.r.Peek(1); errors.Is(perr, io.EOF) {
				ir.eof = true
				return ir.field(buf, escaped, true), true, nil
			}
			buf = append(buf, c) // an enclosing character inside the field is data
		default:
			buf = append(buf, c)
		}
	}
}

// field makes a field of buf: \N alone is NULL, and so is an unenclosed NULL when fields
// may be enclosed.
func (ir *infileReader) field(buf []byte, escaped int, enclosed bool) infileField {
	s := string(buf)
	if !enclosed && (escaped == 1 && s == "N" || ir.enclosed >= 0 && s == "NULL") {
		return infileField{null: true}
	}
	return infileField{val: s}
}
