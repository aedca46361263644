#!/usr/bin/env bash
# The example job files: jobs/demo.yaml is exactly the embedded default job
# (`advsweep run --print-default`), every jobs/*.yaml plans (advsweep plan
# exit 0), and each header states its question, size and run time, with the
# point count of its "Size: ... = N points" line equal to the plan's.
#
#   test_jobs.sh [ADVSWEEP_BINARY]      (ctest passes the built binary)
set -u
HERE=$(cd "$(dirname "$0")" && pwd -P)
JOBS=$(cd "$HERE/../../jobs" && pwd -P)
ADVSWEEP=${1:-${ADVSWEEP_BIN:-$HERE/../../build/advsweep}}
fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

if "$ADVSWEEP" run --print-default | cmp -s - "$JOBS/demo.yaml"; then
    pass "jobs/demo.yaml is identical to advsweep run --print-default"
else
    fail "jobs/demo.yaml differs from advsweep run --print-default:"
    "$ADVSWEEP" run --print-default | diff - "$JOBS/demo.yaml" | head -n 20
fi

n=0
for job in "$JOBS"/*.yaml; do
    n=$((n + 1))
    name=jobs/$(basename "$job")
    if ! out=$("$ADVSWEEP" plan "$job" 2>&1); then
        fail "$name: advsweep plan failed: $out"
        continue
    fi
    points=$(sed -n 's/^points *\([0-9]*\).*/\1/p' <<<"$out")
    header=$(sed -n '/^#/!q; p' "$job")
    said=$(grep -oE '= *[0-9]+ points' <<<"$header" | head -n1 | tr -dc 0-9)
    if [ -z "$header" ] || ! grep -q 'Size:' <<<"$header"; then
        fail "$name: no header comment with a 'Size:' line"
    elif [ "$said" != "$points" ]; then
        fail "$name: header says ${said:-no} points, advsweep plan counts $points"
    elif ! grep -qiE 'Question|\?' <<<"$header" || ! grep -qE '[0-9] (s|min|h)\b' <<<"$header" ||
         ! grep -qE '[0-9]+ cores' <<<"$header"; then
        fail "$name: the header should state the question and the run time on a number of cores"
    else
        pass "$name: plans ($points points), header states question, size and run time"
    fi
done
[ "$n" -ge 6 ] || fail "expected at least 6 job files in jobs/, found $n"
[ "$fails" -eq 0 ]
