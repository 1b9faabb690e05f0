package metrics

// This file holds every SQL statement the package runs.

// environmentNamesSelect reads the environments' names, to label the
// gauges by environment rather than by id.
const environmentNamesSelect = `select id, name from environments`

// openExceptionsByKindSelect counts the exceptions still waiting for a
// person (open or assigned), by environment and kind, for the gauge.
const openExceptionsByKindSelect = `
		select environment_id, kind, count(*) from exceptions where status in ('open', 'assigned') group by environment_id, kind`
