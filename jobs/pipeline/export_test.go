package pipeline

// GenericPlans is genericPlans, for its test.
var GenericPlans = genericPlans

// RetryJob is retryJob, for its test.
var RetryJob = retryJob
