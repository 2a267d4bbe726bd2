// Package policy holds pipguard's decision model: every rule pipguard applies
// is recorded as a Check with its outcome, the expected and actual values, and
// a hint, and a Decision is the list of all of them.
//
// The package trusts nothing it is given: it only records and summarises what
// the stages that gather evidence (resolve, verify, audit) found. Loading a
// policy file is added here as the policy grows.
package policy
