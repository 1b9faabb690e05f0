package engine

import (
	"math"
	"math/bits"
	"strconv"

	"github.com/shopspring/decimal"
)

// amount is a decimal number for the money functions. Retail amounts fit
// in an int64 mantissa with a small scale ("19.99" is 1999 at scale 2), and
// arithmetic on that is ten times cheaper than on shopspring's big.Int;
// anything that does not fit (or would overflow) is done by
// shopspring/decimal instead, so results never lose precision. The two
// paths are checked against each other in amount_test.go.
type amount struct {
	fast  bool
	m     int64 // value = m / 10^scale when fast
	scale int32
	big   decimal.Decimal
}

// maxFastMantissa keeps |m| well inside int64 so that one rescale by a
// small power of ten cannot overflow unnoticed.
const maxFastMantissa = 1e17

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

func bigAmount(d decimal.Decimal) amount { return amount{big: d} }

func intAmount(v int64) amount {
	if v > -maxFastMantissa && v < maxFastMantissa {
		return amount{fast: true, m: v}
	}
	return bigAmount(decimal.NewFromInt(v))
}

// parseAmount reads plain decimal notation ("-12.340"); ok is false for
// anything else (exponents, too many digits), which the caller hands to
// shopspring.
func parseAmount(s string) (amount, bool) {
	if len(s) == 0 || len(s) > 19 {
		return amount{}, false
	}
	i, neg := 0, false
	switch s[0] {
	case '-':
		neg, i = true, 1
	case '+':
		i = 1
	}
	var m int64
	scale := int32(-1)
	digits := 0
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + int64(c-'0')
			digits++
			if scale >= 0 {
				scale++
			}
		case c == '.' && scale < 0:
			scale = 0
		default:
			return amount{}, false
		}
	}
	if digits == 0 || m >= maxFastMantissa {
		return amount{}, false
	}
	if scale < 0 {
		scale = 0
	}
	if neg {
		m = -m
	}
	return amount{fast: true, m: m, scale: scale}, true
}

func (a amount) toBig() decimal.Decimal {
	if a.fast {
		return decimal.New(a.m, -a.scale)
	}
	return a.big
}

// rescale returns m at a larger scale, or false on overflow.
func rescale(m int64, from, to int32) (int64, bool) {
	d := to - from
	if d == 0 {
		return m, true
	}
	if d < 0 || int(d) >= len(pow10) {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(abs64(m)), uint64(pow10[d]))
	if hi != 0 || lo >= maxFastMantissa {
		return 0, false
	}
	if m < 0 {
		return -int64(lo), true
	}
	return int64(lo), true
}

func abs64(m int64) int64 {
	if m < 0 {
		return -m
	}
	return m
}

func (a amount) align(b amount) (int64, int64, int32, bool) {
	if !a.fast || !b.fast {
		return 0, 0, 0, false
	}
	s := max(a.scale, b.scale)
	am, ok1 := rescale(a.m, a.scale, s)
	bm, ok2 := rescale(b.m, b.scale, s)
	return am, bm, s, ok1 && ok2
}

func (a amount) add(b amount) amount {
	if am, bm, s, ok := a.align(b); ok {
		if r := am + bm; r > -maxFastMantissa && r < maxFastMantissa {
			return amount{fast: true, m: r, scale: s}
		}
	}
	return bigAmount(a.toBig().Add(b.toBig()))
}

func (a amount) sub(b amount) amount { return a.add(b.neg()) }

func (a amount) neg() amount {
	if a.fast {
		a.m = -a.m
		return a
	}
	return bigAmount(a.big.Neg())
}

func (a amount) mul(b amount) amount {
	if a.fast && b.fast && int(a.scale+b.scale) < len(pow10) {
		hi, lo := bits.Mul64(uint64(abs64(a.m)), uint64(abs64(b.m)))
		if hi == 0 && lo < maxFastMantissa {
			r := int64(lo)
			if (a.m < 0) != (b.m < 0) {
				r = -r
			}
			return amount{fast: true, m: r, scale: a.scale + b.scale}
		}
	}
	return bigAmount(a.toBig().Mul(b.toBig()))
}

func (a amount) cmp(b amount) int {
	if am, bm, _, ok := a.align(b); ok {
		switch {
		case am < bm:
			return -1
		case am > bm:
			return 1
		}
		return 0
	}
	return a.toBig().Cmp(b.toBig())
}

func (a amount) isZero() bool {
	if a.fast {
		return a.m == 0
	}
	return a.big.IsZero()
}

// round rounds to places decimals with one of the documented modes.
func (a amount) round(places int32, mode string) amount {
	if a.fast && a.scale <= places {
		return a
	}
	if a.fast && int(a.scale-places) < len(pow10) {
		div := pow10[a.scale-places]
		q, r := a.m/div, a.m%div
		if r != 0 {
			neg := a.m < 0
			ar := abs64(r)
			half := ar*2 - div // <0 below half, 0 at half, >0 above
			up := false        // away from zero
			switch mode {
			case "half-up":
				up = half >= 0
			case "half-even":
				up = half > 0 || (half == 0 && q%2 != 0)
			case "down":
				up = false
			case "up":
				up = true
			case "ceil":
				up = !neg
			case "floor":
				up = neg
			}
			if up {
				if neg {
					q--
				} else {
					q++
				}
			}
		}
		return amount{fast: true, m: q, scale: places}
	}
	d := a.toBig()
	switch mode {
	case "half-even":
		d = d.RoundBank(places)
	case "down":
		d = d.RoundDown(places)
	case "up":
		d = d.RoundUp(places)
	case "ceil":
		d = d.RoundCeil(places)
	case "floor":
		d = d.RoundFloor(places)
	default:
		d = d.Round(places)
	}
	return bigAmount(d)
}

// string formats without trailing zeros, like decimal.Decimal.String.
func (a amount) string() string {
	if !a.fast {
		return a.big.String()
	}
	m, s := a.m, a.scale
	for s > 0 && m%10 == 0 {
		m /= 10
		s--
	}
	return formatScaled(m, s)
}

// stringFixed formats with exactly places decimals, like StringFixed.
func (a amount) stringFixed(places int32) string {
	r := a.round(places, "half-up")
	if !r.fast {
		return r.big.StringFixed(places)
	}
	m, ok := rescale(r.m, r.scale, places)
	if !ok {
		return r.toBig().StringFixed(places)
	}
	return formatScaled(m, places)
}

func formatScaled(m int64, scale int32) string {
	var buf [40]byte
	neg := m < 0
	digits := strconv.AppendInt(buf[:0], abs64(m), 10)
	if scale == 0 {
		if neg {
			return "-" + string(digits)
		}
		return string(digits)
	}
	var out []byte
	if neg {
		out = append(out, '-')
	}
	if int(scale) >= len(digits) {
		out = append(out, '0', '.')
		for i := len(digits); i < int(scale); i++ {
			out = append(out, '0')
		}
		out = append(out, digits...)
		return string(out)
	}
	cut := len(digits) - int(scale)
	out = append(out, digits[:cut]...)
	out = append(out, '.')
	out = append(out, digits[cut:]...)
	return string(out)
}

// floatAmount reads a float64 through its shortest representation, so
// 19.99 is 19.99 and not 19.989999999999998436805981327779591083526611328125.
func floatAmount(v float64) (amount, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v > 1e300 || v < -1e300 {
		return amount{}, false
	}
	if a, ok := parseAmount(strconv.FormatFloat(v, 'f', -1, 64)); ok {
		return a, true
	}
	return bigAmount(decimal.NewFromFloat(v)), true
}
