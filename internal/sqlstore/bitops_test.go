package sqlstore

import "testing"

// TestBitOps: &, |, ^, <<, >> and ~ compute in BIGINT UNSIGNED as MySQL does, for integers of
// either sign, values from 2^63 up, DECIMALs, DOUBLEs and strings (rounded half away from
// zero, clamped to 64 bits), NULLs and columns; every answer is MariaDB 10.11's.
func TestBitOps(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.connect(t, "")
	mustExec(t, c, "CREATE DATABASE d")
	c = n.connect(t, "d")
	mustExec(t, c, "CREATE TABLE b (id INT PRIMARY KEY, g INT, u BIGINT UNSIGNED, d DECIMAL(10,2), f DOUBLE, s VARCHAR(10))")
	mustExec(t, c, "INSERT INTO b VALUES (1, 1, 18446744073709551615, 1.50, 1.5, '7'), (2, -2, 9223372036854775808, NULL, -2.5, 'x'), (3, NULL, 0, 4.00, NULL, NULL)")
	for q, want := range map[string]string{
		"SELECT 5 ^ 18446744073709551615, 18446744073709551615 & 255, 18446744073709551616 ^ 0": "18446744073709551610,255,18446744073709551615",
		"SELECT 2.5 ^ 0, 2.5e0 ^ 0, -1.5 ^ 0, -2.5e0 ^ 0, 3.4 & 7":                              "3,3,18446744073709551614,18446744073709551613,3",
		"SELECT '1.5' ^ 0, ' 12x' ^ 0, '-3' ^ 0, 1e30 ^ 0, -1e30 ^ 0, TRUE | 2":                 "2,12,18446744073709551613,18446744073709551615,9223372036854775808,3",
		"SELECT 1 << 64, 1 << 63, -1 >> 60, 5 & 3, 5 | 3, 5 ^ 3, 1 << 3, NULL & 1":              "0,9223372036854775808,15,1,7,6,8,NULL",
		"SELECT ~5, ~0, ~-1, ~1.5, ~'7', ~NULL, ~~5, 5 & ~1":                                    "18446744073709551610,18446744073709551615,0,18446744073709551613,18446744073709551608,NULL,5,4",
		"SELECT id, g & 1, ~g, u | 1, u >> 63, d ^ 1, f << 1, s | 0 FROM b ORDER BY id": "1,1,18446744073709551614,18446744073709551615,1,3,4,7 " +
			"2,0,1,9223372036854775809,1,NULL,18446744073709551610,0 " +
			"3,NULL,NULL,1,0,5,NULL,NULL",
	} {
		if got := queryRows(t, c, q); got != want {
			t.Errorf("%s:\n got  %s\n want %s", q, got, want)
		}
	}
	if got := queryRows(t, c, "SELECT BIT_COUNT(~0), BIT_COUNT(-1), BIT_COUNT(1.5), BIT_COUNT('7'), BIT_COUNT(NULL), BIT_COUNT(18446744073709551615), BIT_COUNT(2.5e0), BIT_COUNT(' 12x')"); got != "64,64,1,3,NULL,64,2,2" {
		t.Errorf("BIT_COUNT: %s", got)
	}
	if got := queryRows(t, c, "SELECT COUNT(*) FROM b WHERE u & ~1 = 18446744073709551614"); got != "1" {
		t.Errorf("~ in WHERE: %s, want 1", got)
	}
}
