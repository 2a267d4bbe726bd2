// Package policy is the one place where pipguard's policy is made: secure
// defaults, the policy file (--policy FILE, else the nearest pyproject.toml
// with [tool.pipguard] or pipguard.toml upward from the working directory,
// never past the project's own files, a .git or a directory the project
// does not own: find.go), and command-line flags on top turn into one Policy, and
// Policy.For gives the rules for one repository, each value naming the
// rule that set it. It also holds the decision model: every rule applied
// is recorded as a Check with its outcome, the expected and actual values,
// and a hint; a Decision is the list of all of them.
//
// What it trusts: nothing it reads. A policy file is parsed strictly: an
// unknown key, a wrong type, an invalid value, a duplicate repository table
// or a contradiction is an error naming the file, the line and the key,
// every one of them at once, so a typo never weakens a policy silently.
// Discovery trusts only files and directories that the invoking user or
// root owns and that no one else can write. It never sees raw attestations;
// the stages that gather evidence (resolve, verify, audit) record checks
// here.
package policy
