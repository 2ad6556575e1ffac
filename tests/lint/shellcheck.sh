#!/usr/bin/env bash
# Runs shellcheck at severity warning (sourced files followed) on every shell
# script git tracks: *.sh, *.bash, and files whose first line is a sh or
# bash shebang. One check per script; what shellcheck says is the diag.
# shellcheck source=tests/lib.sh disable=SC1091
. "$(dirname "$0")/../lib.sh"
command -v shellcheck >/dev/null || skip_all "shellcheck is not installed (scripts/setup.sh)"
command -v git >/dev/null && git -C "$PH_ROOT" rev-parse --git-dir >/dev/null 2>&1 ||
	skip_all "not a git checkout: the scripts are the files git tracks"
cd "$PH_ROOT" || exit 1
scripts=()
while IFS= read -r f; do
	case $f in
	*.sh|*.bash) scripts+=("$f") ;;
	*) [ -f "$f" ] && head -n1 "$f" 2>/dev/null | grep -qE '^#!.*[/ ](ba)?sh( |$)' && scripts+=("$f") ;;
	esac
done < <(git ls-files)
plan ${#scripts[@]}
for f in "${scripts[@]}"; do
	if out=$(shellcheck -x -S warning "$f" 2>&1); then
		ok "$f"
	else
		not_ok "$f"
		diag "$out"
	fi
done
done_testing
