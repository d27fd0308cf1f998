package sqlstore

import "testing"

// TestFixedFunctions checks the functions served in place of GMS's (fixedfuncs.go,
// timestampdiff.go) against MySQL's answers.
func TestFixedFunctions(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE ff")
	db := n.connect(t, "ff")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, i INT, u INT UNSIGNED, d DECIMAL(10,2), f DOUBLE, s VARCHAR(20), da DATE, dt DATETIME)")
	mustExec(t, db, `INSERT INTO t VALUES (1, 5, 7, 12.50, 1.5, 'apple', '2024-01-31', '2024-01-31 10:00:00'),
		(2, -3, 0, -0.25, -2.75, 'Banana', '1999-12-31', '2000-01-01 12:30:45'), (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`)
	checkQueries(t, db, []queryCase{
		// GREATEST and LEAST: DECIMAL, integers, strings in their collation, NULL.
		{"SELECT GREATEST(d, 0), LEAST(d, i), GREATEST(i, 2), GREATEST(u, 1), LEAST(1, 2.5) FROM t ORDER BY id",
			"12.50,5.00,5,7,1.0 0.00,-3.00,2,1,1.0 NULL,NULL,NULL,NULL,1.0"},
		{"SELECT GREATEST(s, 'b'), LEAST(s, 'B'), GREATEST('apple', 'B') FROM t ORDER BY id", "b,apple,B Banana,B,B NULL,NULL,B"},
		{"SELECT LEAST(f, d), GREATEST(f, i) FROM t WHERE id = 1", "1.5,5"},
		{"SELECT LEAST(da, '2020-01-01'), GREATEST(dt, '2000') FROM t ORDER BY id",
			"2020-01-01,2024-01-31 10:00:00 1999-12-31,2000-01-01 12:30:45 NULL,NULL"},
		// WEEK, STR_TO_DATE and TIME_TO_SEC of NULL and invalid values.
		{"SELECT WEEK(da), WEEK(da, 3), WEEK('2024-02-30'), STR_TO_DATE(s, '%Y') FROM t ORDER BY id", "4,5,NULL,NULL 52,52,NULL,NULL NULL,NULL,NULL,NULL"},
		{"SELECT TIME_TO_SEC('00:01:01'), TIME_TO_SEC('-01:00:00'), TIME_TO_SEC('838:59:59'), TIME_TO_SEC('2024-01-01 01:02:03'), TIME_TO_SEC(NULL)",
			"61,-3600,3020399,3723,NULL"},
		{"SELECT TIME_TO_SEC(dt) FROM t ORDER BY id", "36000 45045 NULL"},
		// STR_TO_DATE reads a number as its text; TIMESTAMP is a DATETIME (a DATE's midnight,
		// a string's fraction), NULL for text that is no date, and adds a time as its second
		// argument; ADDTIME of a DATE is a DATETIME (MariaDB 10.11's answers).
		{"SELECT STR_TO_DATE(20240131, '%Y%m%d'), STR_TO_DATE(da, '%Y-%m-%d') FROM t WHERE id = 1", "2024-01-31T00:00:00Z,2024-01-31T00:00:00Z"},
		{"SELECT TIMESTAMP(da), TIMESTAMP(dt), TIMESTAMP(da, '01:00:00'), TIMESTAMP(dt, '-00:00:01'), ADDTIME(da, '01:00:00'), SUBTIME(da, '01:00:00') FROM t ORDER BY id",
			"2024-01-31T00:00:00Z,2024-01-31T10:00:00Z,2024-01-31T01:00:00Z,2024-01-31T09:59:59Z,2024-01-31T01:00:00Z,2024-01-30T23:00:00Z " +
				"1999-12-31T00:00:00Z,2000-01-01T12:30:45Z,1999-12-31T01:00:00Z,2000-01-01T12:30:44Z,1999-12-31T01:00:00Z,1999-12-30T23:00:00Z NULL,NULL,NULL,NULL,NULL,NULL"},
		{"SELECT TIMESTAMP('2024-01-31 10:00:00.5'), TIMESTAMP('2024-01-31'), TIMESTAMP('x'), TIMESTAMP(NULL), TIMESTAMP(20240131), TIMESTAMP(240131), TIMESTAMP(20240131103000)",
			"2024-01-31T10:00:00.5Z,2024-01-31T00:00:00Z,NULL,NULL,2024-01-31T00:00:00Z,2024-01-31T00:00:00Z,2024-01-31T10:30:00Z"},
		{"SELECT TIMESTAMP('2024-01-31 23:00:00', '02:30:00'), TIMESTAMP(20240131, '1 01:00:00'), TIMESTAMP('2024-01-31', NULL)", "2024-02-01T01:30:00Z,2024-02-01T01:00:00Z,NULL"},
		{"SELECT COUNT(*) FROM t WHERE TIMESTAMP(da) = '2024-01-31 00:00:00'", "1"},
		// ROUND: a DOUBLE's halves to even (rint), a DECIMAL's away from zero.
		{"SELECT ROUND(2.5e0), ROUND(3.5e0), ROUND(-2.5e0), ROUND(0.125e0, 2), ROUND(25e0, -1), ROUND(2.5), ROUND(-2.5), ROUND(f, 1), ROUND(d, 1) FROM t WHERE id = 1",
			"2,4,-2,0.12,20,3,-3,1.5,12.5"},
		{"SELECT ROUND(d), ROUND(d, -1), ROUND(i, 1), ROUND(NULL) FROM t WHERE id = 1", "13,10,5,NULL"},
		// CONCAT sorts, groups and is distinct in its arguments' collation.
		{"SELECT CONCAT(s, id) FROM t ORDER BY 1", "NULL apple1 Banana2"},
		{"SELECT CONCAT_WS('-', s, id) c FROM t ORDER BY c DESC", "Banana-2 apple-1 3"},
		{"SELECT COUNT(DISTINCT CONCAT(s, 'x')), COUNT(*) FROM (SELECT s FROM t UNION ALL SELECT UPPER(s) FROM t) u", "2,6"},
		// LPAD and RPAD count characters; NULL for a negative length, an empty pad with room
		// to fill, or a result over max_allowed_packet (MariaDB 10.11's answers).
		{"SELECT LPAD('áb', 3, 'x'), LPAD('ábc', 2, 'x'), RPAD('日本', 3, '語'), LPAD('abc', 7, 'xy'), RPAD('abc', 6, 'xy'), LPAD(123, 5, 0)",
			"xáb,áb,日本語,xyxyabc,abcxyx,00123"},
		{"SELECT LPAD('abc', 3, ''), LPAD('abc', 0, ''), LPAD(NULL, 5, ''), LPAD('abc', 5, NULL), LPAD('abc', -1, 'x'), RPAD('ab', 3, ''), LPAD('a', 1000000000, 'x')",
			"abc,,NULL,NULL,NULL,NULL,NULL"},
		{"SELECT LPAD(s, 7, '*'), RPAD(s, 2, '') FROM t ORDER BY id", "**apple,ap *Banana,Ba NULL,NULL"},
		// IF, IFNULL and COALESCE are typed by all the values they may return.
		{"SELECT IF(i > 0, 1, 1.5), IFNULL(i, 2.25), COALESCE(i, 1.5), IF(i > 0, i, 2.5e0), IF(i > 0, 'x', 1), IFNULL(d, i) FROM t ORDER BY id",
			"1.0,5.00,5.0,5,x,12.50 1.5,-3.00,-3.0,2.5,1,-0.25 1.5,2.25,1.5,2.5,1,NULL"},
		// So is CASE (casetype.go): GMS showed CASE WHEN … THEN 1 ELSE 2.5 END's 1 as 1.
		{"SELECT CASE WHEN i > 0 THEN i ELSE d END, CASE id WHEN 2 THEN 7 ELSE d END, CASE WHEN id > 1 THEN f ELSE i END, CASE WHEN id = 3 THEN 2.5 END, CASE WHEN TRUE THEN 1 ELSE 2.50 END FROM t ORDER BY id",
			"5.00,12.50,5,NULL,1.00 -0.25,7.00,-2.75,NULL,1.00 NULL,NULL,NULL,2.5,1.00"},
		// CAST to DECIMAL clips a value past the type's range (decimalcast.go; GMS: 0.00).
		{"SELECT CAST(1000 AS DECIMAL(5,2)), CAST(-1e20 AS DECIMAL(5,2)), CAST('123456' AS DECIMAL(5,2)), CAST(999.999 AS DECIMAL(5,2)), CAST(99.995 AS DECIMAL(4,2)), CAST(' 1e5x' AS DECIMAL(5,2))",
			"999.99,-999.99,999.99,999.99,99.99,999.99"},
		{"SELECT CAST(0 AS DECIMAL(5,2)), CAST('abc' AS DECIMAL(5,2)), CAST(12.345 AS DECIMAL(4,2)), CAST(d * 100 AS DECIMAL(4,1)), CONVERT(i * 1000, DECIMAL(5,1)) FROM t ORDER BY id",
			"0.00,0.00,12.35,999.9,5000.0 0.00,0.00,12.35,-25.0,-3000.0 0.00,0.00,12.35,NULL,NULL"},
		{"SELECT CONVERT(i * 100000, DECIMAL(5,1)) FROM t ORDER BY id", "9999.9 -9999.9 NULL"},
		// INSTR and LOCATE: in the arguments' collation, counting characters.
		{"SELECT INSTR('ABC', 'b'), LOCATE('b', 'áb'), LOCATE('B', 'abcb', 3), LOCATE('', 'abc'), LOCATE('', 'abc', 4), LOCATE('', 'abc', 5), LOCATE('x', 'abc', 0)",
			"2,2,4,1,4,0,0"},
		{"SELECT INSTR(NULL, 'a'), LOCATE('a', NULL), LOCATE('a', 'a', NULL), POSITION('b' IN 'ABC'), INSTR('ab' COLLATE utf8mb4_bin, 'B')", "NULL,NULL,NULL,2,0"},
		{"SELECT INSTR(s, 'A'), LOCATE('NAN', s) FROM t ORDER BY id", "1,0 2,3 NULL,NULL"},
		// TIMESTAMPDIFF counts calendar months.
		{"SELECT TIMESTAMPDIFF(MONTH, '2000-01-01', '2024-01-01'), TIMESTAMPDIFF(YEAR, '1990-06-15', '2024-06-14'), TIMESTAMPDIFF(YEAR, '1990-06-15', '2024-06-15')",
			"288,33,34"},
		{"SELECT TIMESTAMPDIFF(MONTH, '2024-01-31', '2024-02-29'), TIMESTAMPDIFF(MONTH, '2024-03-31', '2024-02-29'), TIMESTAMPDIFF(QUARTER, '2024-01-31', '2024-04-30'), TIMESTAMPDIFF(QUARTER, '2024-01-31', '2024-05-01')",
			"0,-1,0,1"},
		{"SELECT TIMESTAMPDIFF(MONTH, '2024-01-31 10:00:00', '2024-02-29 09:00:00'), TIMESTAMPDIFF(MONTH, '2024-01-31 10:00:00', '2024-02-29 11:00:00'), TIMESTAMPDIFF(MONTH, '2024-01-29 10:00:00', '2024-02-29 09:59:59')",
			"0,0,0"},
		{"SELECT TIMESTAMPDIFF(MONTH, '2024-01-31', da), TIMESTAMPDIFF(MONTH, dt, '2024-03-01'), TIMESTAMPDIFF(DAY, da, '2024-03-01') FROM t ORDER BY id",
			"0,1,30 -289,289,8827 NULL,NULL,NULL"},
	})
	// TIMESTAMP's result is a DATETIME whatever its argument (GMS's was its argument's type:
	// a DATE column's TIMESTAMP showed the date alone).
	rows, err := db.Query("SELECT TIMESTAMP(da), TIMESTAMP(s), TIMESTAMP(20240131), TIMESTAMP(da, '01:00:00') FROM t WHERE id = 1")
	if err != nil {
		t.Fatal(err)
	}
	cts, err := rows.ColumnTypes()
	rows.Close()
	if err != nil {
		t.Fatal(err)
	}
	for i, ct := range cts {
		if ct.DatabaseTypeName() != "DATETIME" {
			t.Errorf("TIMESTAMP column %d is %s, want DATETIME", i, ct.DatabaseTypeName())
		}
	}
	// In an UPDATE's SET, which GMS analyses with fewer rules.
	mustExec(t, db, "UPDATE t SET i = TIMESTAMPDIFF(MONTH, '2000-01-01', '2024-01-01') WHERE id = 2")
	if got := queryRows(t, db, "SELECT i FROM t WHERE id = 2"); got != "288" {
		t.Errorf("UPDATE … SET i = TIMESTAMPDIFF(MONTH, …): got %q, want 288", got)
	}
	mustExec(t, db, "CREATE TABLE g AS SELECT GREATEST(d, i) x, GREATEST(i, 3) y FROM t")
	if got := queryRows(t, db, "SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_SCALE FROM information_schema.COLUMNS WHERE TABLE_NAME = 'g' ORDER BY COLUMN_NAME"); got != "x,decimal,2 y,bigint,0" {
		t.Errorf("GREATEST's column types: got %q", got)
	}
}
