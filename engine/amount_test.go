package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

// TestAmountMatchesShopspring checks the int64 fast path against
// shopspring/decimal on random amounts for every operation and rounding
// mode, including values that force the fallback.
func TestAmountMatchesShopspring(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() string {
		switch r.IntN(6) {
		case 0:
			return fmt.Sprintf("%d", r.Int64N(2_000_000)-1_000_000)
		case 1:
			return fmt.Sprintf("-%d.%03d", r.IntN(1000), r.IntN(1000))
		case 2:
			return fmt.Sprintf("%d.%0*d", r.Int64N(1e15), 1+r.IntN(3), r.IntN(10))
		case 3:
			return fmt.Sprintf("%d.%d5", r.IntN(100), r.IntN(10)) // ties
		case 4:
			return fmt.Sprintf("99999999999999999.%d", r.IntN(10)) // over the fast range
		}
		return fmt.Sprintf("0.%08d", r.IntN(1e8))
	}
	modes := []string{"half-up", "half-even", "down", "up", "ceil", "floor"}
	for i := 0; i < 20000; i++ {
		as, bs := gen(), gen()
		a, err := toAmount("t", as, 0)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := toAmount("t", bs, 1)
		da, db := decimal.RequireFromString(as), decimal.RequireFromString(bs)
		check := func(op string, got string, want string) {
			t.Helper()
			if got != want {
				t.Fatalf("%s(%s, %s) = %s, shopspring %s", op, as, bs, got, want)
			}
		}
		check("string", a.string(), da.String())
		check("add", a.add(b).string(), da.Add(db).String())
		check("sub", a.sub(b).string(), da.Sub(db).String())
		check("mul", a.mul(b).string(), da.Mul(db).String())
		check("neg", a.neg().string(), da.Neg().String())
		check("cmp", fmt.Sprint(a.cmp(b)), fmt.Sprint(da.Cmp(db)))
		places := int32(r.IntN(4))
		check("fixed", a.stringFixed(places), da.StringFixed(places))
		for _, m := range modes {
			var want decimal.Decimal
			switch m {
			case "half-up":
				want = da.Round(places)
			case "half-even":
				want = da.RoundBank(places)
			case "down":
				want = da.RoundDown(places)
			case "up":
				want = da.RoundUp(places)
			case "ceil":
				want = da.RoundCeil(places)
			case "floor":
				want = da.RoundFloor(places)
			}
			check("round "+m, a.round(places, m).stringFixed(places), want.StringFixed(places))
		}
	}
}

func TestAmountParsing(t *testing.T) {
	for _, s := range []string{"", "-", ".", "1.2.3", "1e5", "12345678901234567890", "1,5"} {
		if _, ok := parseAmount(s); ok {
			t.Errorf("parseAmount(%q) accepted", s)
		}
	}
	for s, want := range map[string]string{"+1.50": "1.5", "-0.0": "0", ".5": "0.5", "7.": "7"} {
		a, ok := parseAmount(s)
		if !ok || a.string() != want {
			t.Errorf("parseAmount(%q) = %q %v", s, a.string(), ok)
		}
	}
	if a, ok := floatAmount(1e300 * 10); ok {
		t.Errorf("Inf accepted: %v", a)
	}
	if a, _ := floatAmount(1e25); a.fast || a.string() != "10000000000000000000000000" {
		t.Errorf("1e25 = %+v", a)
	}
	if a := intAmount(1 << 62); a.fast || a.string() != "4611686018427387904" {
		t.Errorf("big int = %+v", a)
	}
	if got := formatScaled(-5, 3); got != "-0.005" {
		t.Error(got)
	}
}
