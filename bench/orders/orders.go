// Package orders generates storefront order.created payloads for the
// benchmarks: realistic shape (the storefront-order-to-erp flow's input),
// about 2 KB each, 1 to 8 lines, deterministic for a seed.
package orders

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

var (
	stores    = []string{"store-berlin", "store-munich", "store-zurich"}
	firsts    = []string{"Ana", "Marta", "Jonas", "Lea", "Noah", "Mia", "Elias", "Emma", "Paul", "Sofia"}
	lasts     = []string{"Silva", "Keller", "Müller", "Schmidt", "Weber", "Wagner", "Becker", "Hoffmann"}
	cities    = []string{"Berlin", "München", "Zürich", "Hamburg", "Köln", "Basel"}
	products  = []string{"Organic cotton T-shirt", "Field guide to urban birds", "Oak dining chair", "Linen napkins, set of 4", "Stoneware mug", "Wool throw blanket", "Ceramic vase", "Recycled notebook"}
	carriers  = []string{"DHL-STANDARD", "DHL-EXPRESS", "PICKUP"}
	statuses  = []string{"paid", "paid", "paid", "authorized", "pending"}
	taxRates  = []float64{0.19, 0.07}
	tagSets   = []string{"", "newsletter", "vip", "wholesale, vip", "newsletter, returning"}
	userAgent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)

func cents(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }

// Generate returns n orders as compact JSON, one per element.
func Generate(n int, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([][]byte, n)
	for i := range out {
		out[i] = order(r, i)
	}
	return out
}

func order(r *rand.Rand, i int) []byte {
	id := int64(5012345000000 + i)
	first, last := firsts[r.IntN(len(firsts))], lasts[r.IntN(len(lasts))]
	city := cities[r.IntN(len(cities))]
	addr := map[string]any{
		"first_name": first, "last_name": last, "name": first + " " + last, "company": nil,
		"address1": fmt.Sprintf("Hauptstraße %d", 1+r.IntN(200)), "address2": []any{nil, "", "3. OG"}[r.IntN(3)],
		"city": city, "zip": fmt.Sprintf("%05d", 10000+r.IntN(89999)), "province": nil, "country": "Germany",
		"country_code": "DE", "phone": nil,
	}
	var lines []any
	var subtotal, tax int64
	var discounts int64
	for l := 0; l < 1+r.IntN(8); l++ {
		qty := int64(1 + r.IntN(3))
		price := int64(499 + r.IntN(9000))
		rate := taxRates[r.IntN(len(taxRates))]
		gross := price * qty
		var alloc []any
		if r.IntN(4) == 0 {
			d := gross / 10
			discounts += d
			alloc = append(alloc, map[string]any{"amount": cents(d), "discount_application_index": 0})
		} else {
			alloc = []any{}
		}
		lineTax := int64(float64(gross)*rate/(1+rate) + 0.5)
		tax += lineTax
		subtotal += gross
		p := products[r.IntN(len(products))]
		lines = append(lines, map[string]any{
			"id": 11000000 + i*10 + l, "variant_id": 42000000 + r.IntN(100000),
			"sku":   fmt.Sprintf("SKU-%05d-%s", r.IntN(100000), []string{"S", "M", "L", "XL"}[r.IntN(4)]),
			"title": p, "quantity": qty,
			"price": cents(price), "grams": 200 + r.IntN(3000), "requires_shipping": true, "taxable": true,
			"tax_lines":            []any{map[string]any{"rate": rate, "price": cents(lineTax), "title": "MwSt"}},
			"discount_allocations": alloc,
		})
	}
	ship := []any{}
	var shipping int64
	if r.IntN(5) != 0 {
		shipping = []int64{490, 890, 0}[r.IntN(3)]
		ship = append(ship, map[string]any{"code": carriers[r.IntN(len(carriers))], "title": "Shipping", "price": cents(shipping)})
	}
	codes := []any{}
	if discounts > 0 {
		codes = append(codes, map[string]any{"code": "spring10", "amount": cents(discounts), "type": "percentage"})
	}
	created := fmt.Sprintf("2026-03-%02dT%02d:%02d:%02d+01:00", 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60))
	o := map[string]any{
		"id": id, "name": fmt.Sprintf("#%d", 1000+i), "order_number": 1000 + i, "created_at": created, "updated_at": created,
		"currency": "EUR", "presentment_currency": "EUR", "email": fmt.Sprintf("%s.%s%d@example.com", first, last, i),
		"store_id": stores[r.IntN(len(stores))], "financial_status": statuses[r.IntN(len(statuses))], "fulfillment_status": nil,
		"tags": tagSets[r.IntN(len(tagSets))], "note": []any{nil, "Please leave at the back door"}[r.IntN(2)],
		"subtotal_price": cents(subtotal), "total_tax": cents(tax), "total_discounts": cents(discounts),
		"total_price": cents(subtotal - discounts + shipping), "taxes_included": true, "test": false,
		"browser_ip": fmt.Sprintf("203.0.113.%d", r.IntN(255)), "landing_site": "/collections/spring?utm_source=newsletter",
		"client_details": map[string]any{"user_agent": userAgent, "accept_language": "de-DE"},
		"customer": map[string]any{"id": 880000 + r.IntN(100000), "first_name": first, "last_name": last,
			"phone": []any{nil, "+49 30 1234-5678"}[r.IntN(2)], "orders_count": r.IntN(20), "verified_email": true},
		"shipping_address": addr, "billing_address": addr,
		"line_items": lines, "shipping_lines": ship, "discount_codes": codes,
	}
	b, err := json.Marshal(o)
	if err != nil {
		panic(err)
	}
	return b
}
