// Package errs is the error every Usher package shares: a domain error with
// a kind (which the HTTP edges map to a status once), a short code in
// Auth0's vocabulary and a sentence for the caller, and the two sentinel
// errors a store returns. It imports nothing of Usher's, so every package
// can use it.
package errs
