// Package layout knows every path a wheel writes before pip writes it, and
// checks the disk after.
//
// Open reads a wheel archive as pip's installer reads it and refuses, with
// every reason at once, what pip would install in a way its own metadata
// does not say: member names that escape or are ambiguous, a RECORD that
// disagrees with the members, a .dist-info shipping files pip or pipguard
// write, .data directories pip does not know, entry points pip fails on
// after writing files. PlanWheel maps every member to its installed path as
// pip 23.x and 24.x do (src/pip/_internal/operations/install/wheel.py:
// root files by Root-Is-Purelib, .data/<scheme>/, #!python rewriting of
// .data/scripts, generated console and gui scripts with pip's special
// cases, .pyc files compileall writes, INSTALLER, REQUESTED,
// direct_url.json and RECORD). Conflicts refuses a plan that would write
// over another wheel's files, another distribution's or nobody's; Check
// compares the disk with the plans after pip; Survey and Changed prove that
// nothing outside them changed.
//
// What it trusts: the bytes of the archive it hashes itself (sizes are
// bounded by the archive's declared sizes, and the zip reader refuses a
// member that inflates beyond them) and the disk it reads. The wheel's
// RECORD, WHEEL and entry_points.txt are read as claims and checked against
// the members; an installed RECORD is evidence checked against the plan,
// never proof. The Scheme is the target interpreter's own (pip's
// locations.get_scheme), which the caller obtains by running it.
//
// The package never prints; errors say what is wrong, why, and what to do.
package layout
