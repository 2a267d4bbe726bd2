// Package policy is the one place where pipguard's policy is made: secure
// defaults, the policy file ([tool.pipguard] in the nearest pyproject.toml
// upward from the working directory, else pipguard.toml there, or
// --policy FILE), and command-line flags on top turn into one Policy, and
// Policy.For gives the rules for one repository, each value naming the
// rule that set it. It also holds the decision model: every rule applied
// is recorded as a Check with its outcome, the expected and actual values,
// and a hint; a Decision is the list of all of them.
//
// What it trusts: nothing it reads. A policy file is parsed strictly: an
// unknown key, a wrong type, an invalid value, a duplicate repository table
// or a contradiction is an error naming the key, the file and the line, so
// a typo never weakens a policy silently. It never sees raw attestations;
// the stages that gather evidence (resolve, verify, audit) record checks
// here.
package policy
