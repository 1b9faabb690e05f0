// Package format turns a route's mapped output (the JSON the engine
// writes) into the bytes a target receives — JSON as it is, XML or CSV —
// and turns XML and CSV that source systems send into the same structure
// a JSON body has. It does no I/O: it is handed bytes and returns bytes.
//
// The XML convention is the same both ways (docs/definition-format.md,
// "Output formats"): an object's keys are elements, keys that start with
// @ are attributes of the element that holds them, the key #text is the
// element's text, and an array is its element repeated once per item. The
// document's root element is named by the target's configuration and is
// not part of the data, so an XML body read in is the object its root
// element holds.
//
// CSV is RFC 4180: the columns a target declares, in order, each with a
// header and a path into the output; one row per output object, or per
// item of a named array (order lines) with the output's other fields
// repeated on each row.
//
// Output is deterministic: objects keep the order of their keys in the
// mapped output (the engine writes keys sorted), so the same output always
// encodes to the same bytes.
package format
