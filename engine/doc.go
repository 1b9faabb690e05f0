// Package engine turns a flow definition into a compiled program and runs it
// on messages.
//
// A definition (see docs/definition-format.md) holds everything a flow
// version executes: the idempotency-key and correlation-id expressions,
// validation rules, routes with their output mappings, lookup tables and test
// cases. The life of a definition in this package is:
//
//	def, err := engine.ParseDefinition(data)      // JSON Schema, pointers in errors
//	prog, err := engine.Compile(def, engine.Options{})
//	res, err := prog.Run(ctx, engine.Input{Payload: body, Now: receivedAt, Vars: vars})
//
// Parsing and compiling report every problem at once as a *DefinitionError
// whose diagnostics carry a JSON pointer into the definition, line, column
// and a caret snippet, so the designer can put each message next to its
// field.
//
// The designer compiles with CompileLenient instead: every broken construct
// (a key, the channel, a rule, a route's condition or target, a row's
// expression, for-each source, filter or when, a lookup's default) is
// disabled and carries its diagnostic, reported in the Result as that
// construct's error, while everything else maps and shows its value.
// Publishing, tests and the pipeline use Compile, which refuses the
// definition instead.
//
// Expressions are expr-lang/expr programs compiled once per version. They
// see the payload as `source`, for-each items under the names the definition
// gives them, and a small library of side-effect-free functions (Functions
// lists them with examples). Nothing in this package reads the wall clock,
// the process environment, files or the network: `now()` returns Input.Now
// and `env("NAME")` reads Input.Vars, so replaying a message on the same
// version maps it byte for byte the same way.
//
// Expressions are sandboxed. Before anything is parsed, CheckSize and
// CheckLimits bound the document, the counts of its parts and each
// expression's length and nesting depth (expr's parser recurses per level
// and a stack overflow cannot be recovered from). At compile time: a node
// cap, and only documented functions may be called, not methods of the
// values they return. At run time: expr's memory budget per expression, a
// per-message budget of predicate iterations and of bytes built (every
// function that builds a string or structure counts while it builds),
// caps on payload, output and for-each sizes, and the context checked
// between rows, inside predicate loops and while writing values (Options
// documents each). A deployed flow's context carries its time budget
// (Program.TimeBudget) with the cause ErrTimeBudget, which Run reports as
// a row error naming the expression that was running.
//
// A Program is immutable and safe for concurrent use; per-run state (expr
// virtual machines, buffers) is pooled. Run returns an error only when the
// message as a whole cannot be mapped (invalid JSON, a size limit, a
// cancelled context); a failing row or rule is recorded in the Result, so
// one bad field never hides the others.
//
// Speed: the payload is parsed with valyala/fastjson and only the parts of it
// that some expression can reach are turned into Go values (see projection
// in project.go). Rows that are plain paths (`source.customer.email`) skip
// the virtual machine, and output JSON is written straight into a buffer in
// definition order, which is also what makes it byte-identical across runs.
package engine
