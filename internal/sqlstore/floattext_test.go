package sqlstore

import (
	"strconv"
	"testing"
)

// TestFloatText checks floatText against MariaDB 10.11's text for the same values (MySQL
// 8 writes DOUBLEs the same way).
func TestFloatText(t *testing.T) {
	for _, c := range []struct {
		v    float64
		bits int
		want string
	}{
		{1e14, 64, "100000000000000"}, {1e15, 64, "1e15"}, {123456789012345, 64, "123456789012345"},
		{1234567890123456, 64, "1.234567890123456e15"}, {12345678901234567, 64, "1.2345678901234568e16"},
		{1.5e14, 64, "150000000000000"}, {1.5e15, 64, "1.5e15"}, {1e-6, 64, "0.000001"},
		{1e-7, 64, "0.0000001"}, {1.5e-7, 64, "0.00000015"}, {1.234e-10, 64, "0.0000000001234"},
		{1e-15, 64, "0.000000000000001"}, {1e-16, 64, "1e-16"}, {1e-20, 64, "1e-20"},
		{0.000123456789, 64, "0.000123456789"}, {1.7976931348623157e308, 64, "1.7976931348623157e308"},
		{5e-324, 64, "5e-324"}, {-1234567.5, 64, "-1234567.5"}, {1e20, 64, "1e20"},
		{123456789, 64, "123456789"}, {0.1, 64, "0.1"}, {0.30000000000000004, 64, "0.30000000000000004"},
		{2e-5, 64, "0.00002"}, {-3.25, 64, "-3.25"}, {0, 64, "0"}, {10, 64, "10"},
		{1234567.5, 32, "1234570"}, {1e10, 32, "10000000000"}, {0.1, 32, "0.1"}, {1e-10, 32, "0.0000000001"},
		{123456789, 32, "123457000"}, {3.4e38, 32, "3.4e38"}, {3.14159, 32, "3.14159"},
	} {
		v := c.v
		if c.bits == 32 {
			v = float64(float32(v))
		}
		if got := floatText(v, c.bits); got != c.want {
			t.Errorf("floatText(%v, %d) = %s, want %s", c.v, c.bits, got, c.want)
		}
		if c.bits == 64 {
			if back, err := strconv.ParseFloat(floatText(v, 64), 64); err != nil || back != v {
				t.Errorf("floatText(%v) reads back as %v, %v", v, back, err)
			}
		}
	}
}

// TestFloatTextResults checks DOUBLE and FLOAT values in text results through the mysql
// client (go-sql-driver parses them into float64, hiding the text).
func TestFloatTextResults(t *testing.T) {
	n := startNode(t, t.TempDir())
	out := mysqlCLI(t, n, `CREATE DATABASE ft; CREATE TABLE ft.t (id INT PRIMARY KEY, f DOUBLE, g FLOAT);
INSERT INTO ft.t VALUES (1, 1234567, 1234567), (2, 1e10, 2e-5), (3, NULL, NULL);
SELECT f, g, f * 10 FROM ft.t ORDER BY id;
SELECT 1e15, 1e-16, 123456789e0, CAST(1234567 AS FLOAT);
`, "-N")
	want := "1234567\t1234570\t12345670\n10000000000\t0.00002\t100000000000\nNULL\tNULL\tNULL\n1e15\t1e-16\t123456789\t1234570\n"
	if out != want {
		t.Errorf("mysql client:\n got %q\nwant %q", out, want)
	}
}
