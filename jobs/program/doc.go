// Package program holds the flow versions compiled for running: Load,
// from a cache by checksum shared by intake (keys and synchronous
// mapping), the pipeline and replay, and Run, which maps one message under the flow's
// time budget. It imports the engine, mappings (to load a version) and
// the transport kinds, no other jobs package.
package program
