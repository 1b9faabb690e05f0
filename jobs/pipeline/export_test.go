package pipeline

// GenericPlans is genericPlans, for its test.
var GenericPlans = genericPlans
