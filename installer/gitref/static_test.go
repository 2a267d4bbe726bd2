package gitref

import "testing"

func TestStaticShape(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want Shape
	}{
		{"", ShapeNone},
		{"HEAD", ShapeBranch},
		{"main", ShapeBranch},
		{"Master", ShapeBranch},
		{"develop", ShapeBranch},
		{"trunk", ShapeBranch},
		{"refs/heads/v1.2.3", ShapeBranch},
		{"refs/remotes/origin/main", ShapeBranch},
		{"feature/login-2", ShapeBranch},
		{"release/1.2", ShapeBranch},
		{"dependabot/pip/requests-2.31.0", ShapeBranch},
		{"1.x", ShapeBranch},
		{"v2.X", ShapeBranch},
		{"stable-3.x", ShapeBranch},
		{"refs/tags/v1.2.3", ShapeTag},
		{"refs/tags/main", ShapeTag},
		{"refs/pull/12/head", ShapeNotTag},
		{"something", ShapeNotTag},
		{"my-feature", ShapeNotTag},
		{"0123456789abcdef0123456789abcdef01234567", ShapeCommit},
		{"0123456789ABCDEF0123456789ABCDEF01234567", ShapeCommit},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ShapeCommit},
		{"abc1234", ShapeShortSHA},
		{"0123456789abcdef0123456789abcdef0123456", ShapeShortSHA},
		{"0123456789abcdef0123456789abcdef012345678", ShapeShortSHA},
		{"20240101", ShapeShortSHA},
		{"abc", ShapeNotTag},
		{"v1.2.3", ShapeTag},
		{"1.2.3", ShapeTag},
		{"v1", ShapeTag},
		{"1.0rc1", ShapeTag},
		{"pkg-v2.0.0", ShapeTag},
		{"pkg/v1.2.3", ShapeTag},
		{"2024.01.15", ShapeTag},
		{"12", ShapeTag},
	} {
		if got := StaticShape(tc.ref); got != tc.want {
			t.Errorf("StaticShape(%q) = %q, want %q", tc.ref, got, tc.want)
		}
	}
}
