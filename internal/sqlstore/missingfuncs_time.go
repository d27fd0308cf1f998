package sqlstore

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	"github.com/shopspring/decimal"
)

// MAKEDATE, MAKETIME, SEC_TO_TIME, ADDTIME, SUBTIME, PERIOD_ADD, PERIOD_DIFF, TO_SECONDS,
// UTC_DATE and UTC_TIME (missingfuncs.go).

// MAKEDATE(year, dayofyear), MAKETIME(hour, minute, second), SEC_TO_TIME(seconds).

// maxDayNumber is the day number (calcDaynr) of 9999-12-31.
const maxDayNumber = 3652424

// evalMakedate is MAKEDATE: NULL for a year outside 0..9999 or a day below 1 or past
// 9999-12-31; a year below 100 is read as MySQL reads a 2-digit year (70..99: 19xx).
func evalMakedate(ctx *sql.Context, _ *builtinCall, vals []any) (any, error) {
	year, day := valInt(ctx, vals[0]), valInt(ctx, vals[1])
	if year < 0 || year > 9999 || day <= 0 || day > maxDayNumber {
		return nil, nil
	}
	if year < 70 {
		year += 2000
	} else if year < 100 {
		year += 1900
	}
	t := time.Date(int(year), time.January, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(day-1))
	if t.Year() > 9999 {
		return nil, nil
	}
	return t, nil
}

// microsPerSecond is how many microseconds a TIME value counts in a second.
const microsPerSecond = 1_000_000

// maxTimeSeconds is 838:59:59, TIME's limit, in seconds.
const maxTimeSeconds = 838*3600 + 59*60 + 59

// evalMaketime is MAKETIME: NULL for a minute outside 0..59 or a second outside [0, 60); an
// hour past ±838 gives ±838:59:59.
func evalMaketime(ctx *sql.Context, _ *builtinCall, vals []any) (any, error) {
	hour, minute := valInt(ctx, vals[0]), valInt(ctx, vals[1])
	sec := valDecimal(ctx, vals[2])
	if minute < 0 || minute > 59 || sec.Sign() < 0 || !sec.LessThan(decimal.NewFromInt(60)) {
		return nil, nil
	}
	sign, abs := int64(1), hour
	if hour < 0 {
		sign, abs = -1, -hour
	}
	if abs > 838 || abs < 0 { // abs < 0: -MinInt64
		return types.Time.MicrosecondsToTimespan(sign * maxTimeSeconds * microsPerSecond), nil
	}
	micros := sec.Shift(6).Round(0).IntPart() + (abs*3600+minute*60)*microsPerSecond
	return types.Time.MicrosecondsToTimespan(sign * micros), nil
}

// evalSecToTime is SEC_TO_TIME: the TIME seconds after (or before) 00:00:00, clipped to
// ±838:59:59.
func evalSecToTime(ctx *sql.Context, _ *builtinCall, vals []any) (any, error) {
	arg := valDecimal(ctx, vals[0])
	sign, sec := int64(arg.Sign()), arg.Abs()
	if sec.GreaterThan(decimal.NewFromInt(maxTimeSeconds)) {
		ctx.Warn(mysql.ERTruncatedWrongValue, "Truncated incorrect time value: '%s'", arg)
		return types.Time.MicrosecondsToTimespan(sign * maxTimeSeconds * microsPerSecond), nil
	}
	return types.Time.MicrosecondsToTimespan(sign * sec.Shift(6).Round(0).IntPart()), nil
}

// ADDTIME(expr1, expr2), SUBTIME(expr1, expr2).

// addTimeTextType is ADDTIME's type when its first argument is neither a TIME nor a DATETIME.
var addTimeTextType = types.MustCreateStringWithDefaults(sqltypes.VarChar, 29)

// addTimeType is MySQL's type for ADDTIME and SUBTIME (Item_func_add_time::resolve_type):
// TIME for a TIME, DATETIME for a DATETIME or TIMESTAMP (with the fractional digits of both
// arguments), and VARCHAR(29) otherwise: a string is read as a DATETIME or a TIME when the
// function runs, and the result written as that.
func addTimeType(args []sql.Expression) sql.Type {
	t := args[0].Type()
	switch t.Type() {
	case sqltypes.Time:
		return types.Time
	case sqltypes.Datetime, sqltypes.Timestamp, sqltypes.Date:
		p := 0
		if dt, ok := t.(sql.DatetimeType); ok {
			p = dt.Precision()
		}
		return types.MustCreateDatetimeType(sqltypes.Datetime, max(p, timePrecision(args[1])))
	}
	return addTimeTextType
}

// timePrecision is the number of fractional digits of e read as a TIME (Item::time_precision):
// those of a constant string, the scale of a DECIMAL, none for an integer, 6 for anything else.
func timePrecision(e sql.Expression) int {
	t := e.Type()
	switch {
	case sqltypes.IsIntegral(t.Type()):
		return 0
	case types.IsDecimal(t):
		return min(int(t.(sql.DecimalType).Scale()), 6)
	case types.IsText(t):
		v, ok := constArg(e)
		s, isText := textOf(v)
		if !ok || !isText {
			break
		}
		if m := timeText.FindStringSubmatch(strings.TrimSpace(s)); m != nil {
			return min(len(strings.TrimPrefix(m[4], ".")), 6)
		}
		return 0
	}
	return 6
}

// timeText matches the start of a string MySQL reads as a TIME: a sign, days, then
// [H]HH:MM:SS, HH:MM or a number of [H]HMMSS, and fractional seconds.
var timeText = regexp.MustCompile(`^(-)?(?:(\d+)\s+)?(\d+(?::\d+(?::\d+)?)?)(\.\d*)?`)

// temporal is an ADDTIME argument: a datetime, or a time as microseconds.
type temporal struct {
	datetime bool
	t        time.Time
	micros   int64
}

// addTimeArg reads an ADDTIME argument.
func addTimeArg(ctx *sql.Context, v any) (temporal, bool) {
	switch x := v.(type) {
	case types.Timespan:
		return temporal{micros: x.AsMicroseconds()}, true
	case time.Time:
		return temporal{datetime: true, t: x}, true
	case decimal.Decimal:
		v = x.InexactFloat64()
	}
	if s, ok := textOf(v); ok {
		return temporalText(ctx, s)
	}
	if ts, err := types.Time.ConvertToTimespan(v); err == nil {
		return temporal{micros: ts.AsMicroseconds()}, true
	}
	ctx.Warn(mysql.ERTruncatedWrongValue, "Truncated incorrect time value: '%v'", v)
	return temporal{}, false
}

// temporalText reads s as MySQL's str_to_time does: a string of 12 characters or more that is
// a date and time is a DATETIME; anything else is read as a TIME as far as it is one
// ('2007-01-01' is 00:20:07, with warning 1292).
func temporalText(ctx *sql.Context, s string) (temporal, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 12 {
		if dt, _, err := types.DatetimeMaxPrecision.Convert(ctx, s); err == nil {
			if t, ok := dt.(time.Time); ok {
				return temporal{datetime: true, t: t}, true
			}
		}
	}
	m := timeText.FindStringSubmatch(s)
	if m == nil {
		ctx.Warn(mysql.ERTruncatedWrongValue, "Truncated incorrect time value: '%s'", s)
		return temporal{}, false
	}
	if len(m[0]) != len(s) {
		ctx.Warn(mysql.ERTruncatedWrongValue, "Truncated incorrect time value: '%s'", s)
	}
	hms := m[3]
	if m[2] != "" && !strings.Contains(hms, ":") {
		hms += ":00" // 'D HH'
	}
	ts, err := types.Time.ConvertToTimespan(hms + m[4])
	if err != nil {
		ctx.Warn(mysql.ERTruncatedWrongValue, "Truncated incorrect time value: '%s'", s)
		return temporal{}, false
	}
	micros := ts.AsMicroseconds()
	if m[2] != "" {
		days, _ := strconv.ParseInt(m[2], 10, 64)
		micros += min(days, 35) * 24 * 3600 * microsPerSecond // 35 days is past TIME's range
	}
	micros = types.Time.MicrosecondsToTimespan(micros).AsMicroseconds()
	if m[1] != "" {
		micros = -micros
	}
	return temporal{micros: micros}, true
}

// addTimeEval is ADDTIME (sign 1) or SUBTIME (sign -1): expr1 plus or minus the time expr2.
// A TIME result is clipped to ±838:59:59; a DATETIME result outside 0001-01-01 to 9999-12-31,
// and an expr2 that is a DATETIME, give NULL.
func addTimeEval(sign int64) func(*sql.Context, *builtinCall, []any) (any, error) {
	return func(ctx *sql.Context, c *builtinCall, vals []any) (any, error) {
		if c.args[0].Type().Type() == sqltypes.Date && vals[0] != nil {
			// A DATE is the DATETIME at its midnight (it would read as a TIME as text).
			d, _, err := types.DatetimeMaxPrecision.Convert(ctx, vals[0])
			if err != nil {
				return nil, err
			}
			vals[0] = d
		}
		a, ok := addTimeArg(ctx, vals[0])
		if !ok {
			return nil, nil
		}
		b, ok := addTimeArg(ctx, vals[1])
		if !ok || b.datetime {
			return nil, nil
		}
		asText := types.IsText(c.Type())
		delta := sign * b.micros
		if !a.datetime {
			r := types.Time.MicrosecondsToTimespan(a.micros + delta)
			if asText {
				return r.String(), nil
			}
			return r, nil
		}
		r := a.t.Add(time.Duration(delta) * time.Microsecond)
		if r.Year() < 1 || r.Year() > 9999 {
			ctx.Warn(erDatetimeFunctionOverflow, "Datetime function: %s field overflow", c.spec.name)
			return nil, nil
		}
		if !asText {
			return r, nil
		}
		if r.Nanosecond()/1000 != 0 {
			return r.Format("2006-01-02 15:04:05.000000"), nil
		}
		return r.Format("2006-01-02 15:04:05"), nil
	}
}

// PERIOD_ADD(P, N), PERIOD_DIFF(P1, P2).

// periodMonth is the month number of a YYMM or YYYYMM period, or false for one that is not a
// period (MySQL 8.0: error 1210).
func periodMonth(p int64) (int64, bool) {
	if p <= 0 || p%100 == 0 || p%100 > 12 {
		return 0, false
	}
	year := p / 100
	if year < 70 {
		year += 2000
	} else if year < 100 {
		year += 1900
	}
	return year*12 + p%100 - 1, true
}

// errWrongArguments is MySQL's error for a function's wrong arguments.
func errWrongArguments(name string) error {
	return mysql.NewSQLError(mysql.ERWrongArguments, mysql.SSUnknownSQLState, "Incorrect arguments to %s", name)
}

// evalPeriodAdd is PERIOD_ADD: the period N months after P, as YYYYMM.
func evalPeriodAdd(ctx *sql.Context, c *builtinCall, vals []any) (any, error) {
	m, ok := periodMonth(valInt(ctx, vals[0]))
	n := valInt(ctx, vals[1])
	if !ok || (n > 0 && m > math.MaxInt64-n) || m+n < 0 {
		return nil, errWrongArguments(c.spec.name)
	}
	m += n
	if m == 0 {
		return int64(0), nil
	}
	year := m / 12
	if year < 70 {
		year += 2000
	} else if year < 100 {
		year += 1900
	}
	return year*100 + m%12 + 1, nil
}

// evalPeriodDiff is PERIOD_DIFF: the number of months from P2 to P1.
func evalPeriodDiff(ctx *sql.Context, c *builtinCall, vals []any) (any, error) {
	m1, ok1 := periodMonth(valInt(ctx, vals[0]))
	m2, ok2 := periodMonth(valInt(ctx, vals[1]))
	if !ok1 || !ok2 {
		return nil, errWrongArguments(c.spec.name)
	}
	return m1 - m2, nil
}

// TO_SECONDS(expr).

// evalToSeconds is TO_SECONDS: the seconds from 0000-01-01 minus one day (MySQL's day
// numbers) to expr, a date, a datetime, or a number read as [YY]YYMMDD[hhmmss]; NULL for a
// zero or invalid date.
func evalToSeconds(ctx *sql.Context, _ *builtinCall, vals []any) (any, error) {
	var t time.Time
	switch x := vals[0].(type) {
	case time.Time:
		t = x
	case types.Timespan:
		dt, _, err := types.DatetimeMaxPrecision.Convert(ctx, x)
		if err != nil {
			return nil, nil
		}
		t = dt.(time.Time)
	case string, []byte:
		s, _ := textOf(x)
		dt, _, err := types.DatetimeMaxPrecision.Convert(ctx, strings.TrimSpace(s))
		if err != nil || strings.HasPrefix(strings.TrimSpace(s), "0000-00-00") {
			ctx.Warn(mysql.ERTruncatedWrongValue, "Incorrect datetime value: '%s'", s)
			return nil, nil
		}
		t = dt.(time.Time)
	default:
		var ok bool
		if t, ok = numberToDatetime(valDecimal(ctx, x).IntPart()); !ok {
			ctx.Warn(mysql.ERTruncatedWrongValue, "Incorrect datetime value: '%v'", x)
			return nil, nil
		}
	}
	days := calcDaynr(int64(t.Year()), int64(t.Month()), int64(t.Day()))
	return days*86400 + int64(t.Hour()*3600+t.Minute()*60+t.Second()), nil
}

// calcDaynr is MySQL's calc_daynr: the day number of a date, 1 for 0000-01-01.
func calcDaynr(year, month, day int64) int64 {
	if year == 0 && month == 0 {
		return 0
	}
	delsum := 365*year + 31*(month-1) + day
	if month <= 2 {
		year--
	} else {
		delsum -= (month*4 + 23) / 10
	}
	return delsum + year/4 - ((year/100+1)*3)/4
}

// numberToDatetime is MySQL's number_to_datetime: nr as YYMMDD, YYYYMMDD, YYMMDDhhmmss or
// YYYYMMDDhhmmss, a 2-digit year 70..99 being 19xx and 00..69 20xx.
func numberToDatetime(nr int64) (time.Time, bool) {
	switch {
	case nr >= 10000101000000:
	case nr < 101:
		return time.Time{}, false
	case nr <= 691231:
		nr = (nr + 20000000) * 1000000
	case nr < 700101:
		return time.Time{}, false
	case nr <= 991231:
		nr = (nr + 19000000) * 1000000
	case nr < 10000101:
		return time.Time{}, false
	case nr <= 99991231:
		nr *= 1000000
	case nr < 101000000:
		return time.Time{}, false
	case nr <= 691231235959:
		nr += 20000000000000
	case nr < 700101000000:
		return time.Time{}, false
	case nr <= 991231235959:
		nr += 19000000000000
	}
	if nr > 99991231235959 {
		return time.Time{}, false
	}
	year, month, day := int(nr/10000000000), time.Month(nr/100000000%100), int(nr/1000000%100)
	hour, minute, sec := int(nr/10000%100), int(nr/100%100), int(nr%100)
	t := time.Date(year, month, day, hour, minute, sec, 0, time.UTC)
	if t.Month() != month || t.Day() != day || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return t, true
}

// UTC_DATE(), UTC_TIME([fsp]).

// evalUTCDate is UTC_DATE: the statement's date in UTC.
func evalUTCDate(ctx *sql.Context, _ *builtinCall, _ []any) (any, error) {
	y, m, d := ctx.QueryTime().UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}

// checkUTCTime refuses UTC_TIME(fsp) for an fsp that is not a constant integer from 0 to 6.
func checkUTCTime(args []sql.Expression) error {
	if len(args) == 0 {
		return nil
	}
	v, ok := constArg(args[0])
	if !ok || v == nil || !sqltypes.IsIntegral(args[0].Type().Type()) {
		return sql.ErrInvalidArgumentDetails.New("utc_time", args[0].String())
	}
	fsp := valInt(sql.NewEmptyContext(), v)
	if fsp > 6 {
		return mysql.NewSQLError(erTooBigPrecision, mysql.SSClientError,
			"Too-big precision %d specified for 'utc_time'. Maximum is 6.", fsp)
	}
	if fsp < 0 {
		return sql.ErrInvalidArgumentDetails.New("utc_time", args[0].String())
	}
	return nil
}

// evalUTCTime is UTC_TIME: the statement's time of day in UTC, with fsp fractional digits.
func evalUTCTime(ctx *sql.Context, _ *builtinCall, vals []any) (any, error) {
	fsp := int64(0)
	if len(vals) == 1 {
		fsp = valInt(ctx, vals[0])
	}
	t := ctx.QueryTime().UTC()
	micros := int64(t.Hour()*3600+t.Minute()*60+t.Second())*microsPerSecond + int64(t.Nanosecond()/1000)
	unit := int64(math.Pow10(6 - int(min(max(fsp, 0), 6))))
	return types.Timespan(micros / unit * unit), nil
}
