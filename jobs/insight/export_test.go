package insight

// SearchTerms is searchTerms, for the external tests.
var SearchTerms = searchTerms
