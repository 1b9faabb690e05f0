// Package queue names the River queues Crossdock's jobs run on and reads
// their depths for the dashboard. It sits below every other jobs package
// (intake enqueues on Process, the pipeline on Deliver, the River client
// configures both), so it imports no jobs package: only internal helpers.
package queue
