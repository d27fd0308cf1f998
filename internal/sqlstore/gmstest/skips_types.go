package gmstest

// TypesSkips lists, per suite, assertions that encode GMS's column types, catalog and
// rounding where Strata follows MySQL 8 (matched as the entries of Skips are). Each failed only by the reason
// given when it was added.
var TypesSkips = map[string][]Skip{
	"Queries": {
		{"SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA",
			"information_schema.schemata lists mysql, as SHOW DATABASES does and MySQL 8 (sqlstore/infoschema.go); GMS's list leaves it out"},
		{"select coalesce(1, 0.0);",
			"COALESCE of an integer and a DECIMAL is a DECIMAL as in MySQL 8 (sqlstore/condfuncs.go): 1.0; GMS keeps the integer, 1"},
		{"select dayname(123), dayname('abc')",
			"a date function reads the integer 123 as YYMMDD, 2000-01-23, as MySQL's number_to_datetime does (sqlstore/datenumber.go; MariaDB 10.11 answers Sunday): GMS answers NULL"},
		{"select round(5e29, -30)",
			"ROUND of a DOUBLE rounds half to even as MySQL's rint() does (sqlstore/fixedfuncs.go): 5e29 / 1e30 is 0.5, so 0; GMS rounds away from zero, 1e30"},
	},
	"CreateTable": {
		{"SHOW CREATE TABLE floattypedefs",
			"FLOAT(10,2) and DOUBLE(10,2) keep their (M,D) as in MySQL 8 (sqlstore/declared.go); GMS prints float and double"},
	},
}
