package engine_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crossdock/crossdock/engine"
)

// The whole life of a definition: parse, compile once, run per message.
func Example() {
	def, err := engine.ParseDefinition([]byte(`{
	  "formatVersion": 1, "name": "orders", "source": {"system": "shop", "event": "order.created"},
	  "keys": {"idempotency": "\"shop-\" + string(source.id)"},
	  "validation": [{"name": "has-lines", "rule": "len(source.lines) > 0", "message": "no lines"}],
	  "targets": [{"name": "erp", "kind": "http"}],
	  "routes": [{"name": "erp", "target": "erp", "mapping": [
	    {"target": "order", "expr": "source.id"},
	    {"target": "lines", "forEach": "source.lines", "as": "l", "rows": [
	      {"target": "sku", "expr": "upper(l.sku)"},
	      {"target": "amount", "expr": "decRound(decMul(l.price, l.qty), 2)"}
	    ]},
	    {"target": "received", "expr": "now()"}
	  ]}]}`))
	if err != nil {
		panic(err)
	}
	prog, err := engine.Compile(def, engine.Options{})
	if err != nil {
		panic(err)
	}
	res, err := prog.Run(context.Background(), engine.Input{
		Payload: []byte(`{"id": 7, "lines": [{"sku": "tee", "price": "19.99", "qty": 3}]}`),
		Now:     time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Key, res.Valid())
	fmt.Println(string(res.Route("erp").Output))
	// Output:
	// shop-7 true
	// {"order":7,"lines":[{"sku":"TEE","amount":"59.97"}],"received":"2026-03-14T09:30:00Z"}
}

// Compile reports every problem at once, each with its JSON pointer.
func ExampleCompile() {
	def, _ := engine.ParseDefinition([]byte(`{"formatVersion": 1, "name": "x",
	  "source": {"system": "s", "event": "e"}, "targets": [{"name": "t", "kind": "capture"}],
	  "routes": [{"name": "r", "target": "t", "mapping": [
	    {"target": "a", "expr": "upper(source.name"},
	    {"target": "b", "expr": "lookup(\"plants\", source.store)"}]}]}`))
	_, err := engine.Compile(def, engine.Options{})
	var de *engine.DefinitionError
	if errors.As(err, &de) {
		for _, d := range de.Diagnostics {
			fmt.Println(d.Pointer, d.Line, d.Column)
		}
	}
	// Output:
	// /routes/0/mapping/0/expr 1 17
	// /routes/0/mapping/1/expr 1 8
}
