#!/usr/bin/env bash
# compare-outputs.sh UNSHARDED_DIR MERGED_DIR
#
# Checks that `adjointdeis merge` wrote what the unsharded run wrote: the same set of files at the top of both
# folders (MERGED_DIR's shards/, logs/ and slurm/ are ignored), every file byte for byte the same, except wall times:
#   * CSV files: every cell equal, except columns whose name ends in wall_time_s;
#   * Markdown files: equal after masking the wall times ("slowest of K: X s", "Wall time of the solver runs: ...").
# Prints one line per file and exits non-zero on the first set of differences (all differing files are listed).
# Needs only bash, coreutils, diff and perl (perl-base is in every Debian).
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 UNSHARDED_DIR MERGED_DIR" >&2; exit 2; }
a=$1 b=$2
[[ -d $a ]] || { echo "error: $a: not a directory" >&2; exit 2; }
[[ -d $b ]] || { echo "error: $b: not a directory" >&2; exit 2; }

mask_csv() {  # blank every *wall_time_s column; RFC 4180 fields (quoted fields may hold commas and "")
  perl -ne '
    chomp; my @f = ();
    while (/\G("(?:[^"]|"")*"|[^,]*)(,|$)/g) { push @f, $1; last if $2 eq ""; }
    if ($. == 1) { @mask = map { $f[$_] =~ /wall_time_s$/ ? 1 : 0 } 0..$#f; }
    else { for my $i (0..$#f) { $f[$i] = "<wall>" if $mask[$i]; } }
    print join(",", @f), "\n";' "$1"
}
mask_md() { sed -E -e "s/slowest of ([0-9]+): [^ ]+ s/slowest of \1: <wall> s/g" -e "s/^Wall time of the solver runs:.*/<wall>/" "$1"; }

list() { (cd "$1" && find . -maxdepth 1 -type f ! -name '.*' | sed 's|^\./||' | sort); }
if ! diff <(list "$a") <(list "$b") >/dev/null; then
  echo "FAIL: the two folders hold different files:" >&2
  diff <(list "$a") <(list "$b") >&2 || true
  exit 1
fi
failed=0 count=0
while read -r name; do
  count=$((count + 1))
  case $name in
    *.csv) if diff -q <(mask_csv "$a/$name") <(mask_csv "$b/$name") >/dev/null; then how="same cells (wall times masked)"; else how=""; fi ;;
    *.md) if diff -q <(mask_md "$a/$name") <(mask_md "$b/$name") >/dev/null; then how="same text (wall times masked)"; else how=""; fi ;;
    *) if cmp -s "$a/$name" "$b/$name"; then how="same bytes"; else how=""; fi ;;
  esac
  if [[ -n $how ]]; then echo "  ok   $name: $how"; else echo "  DIFF $name" >&2; failed=$((failed + 1)); fi
done < <(list "$a")
[[ $count -gt 0 ]] || { echo "FAIL: no files in $a" >&2; exit 1; }
if [[ $failed -gt 0 ]]; then echo "FAIL: $failed of $count files differ" >&2; exit 1; fi
echo "compare-outputs: all $count files of $b equal those of $a (except wall times)"
