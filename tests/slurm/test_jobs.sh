#!/usr/bin/env bash
# The example job files: jobs/demo.yaml is exactly the embedded default job
# (`advsweep run --print-default`), every jobs/*.yaml plans (advsweep plan
# exit 0), and each header states its question, size and run time, with the
# point count of its "Size: ... = N points" line equal to the plan's. plan
# opens the data files of a data=file job: such a job is planned from a copy
# beside the data file its header's `analysis/digits.py -o jobs/F ...` line
# makes (skipped without Debian's python3-sklearn digits).
#
#   test_jobs.sh [ADVSWEEP_BINARY]      (ctest passes the built binary)
set -u
HERE=$(cd "$(dirname "$0")" && pwd -P)
JOBS=$(cd "$HERE/../../jobs" && pwd -P)
ADVSWEEP=${1:-${ADVSWEEP_BIN:-$HERE/../../build/advsweep}}
PY=${ADVSWEEP_PY:-/usr/bin/python3}
DIGITS_CSV=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
TMP=$(mktemp -d /tmp/advsweep-jobs.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
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
    plan_job=$job
    if grep -qE '^ *data: *file' "$job"; then
        make=$(sed -n 's/^# *\(analysis\/digits\.py -o jobs\/.*\)$/\1/p' "$job" | head -n1)
        if [ -z "$make" ]; then
            fail "$name: a data=file job should say how to make its data file (analysis/digits.py -o jobs/F ...)"
            continue
        fi
        if [ ! -e "$DIGITS_CSV" ]; then
            echo "SKIP: $name: no python3-sklearn digits to make its data file"
            continue
        fi
        plan_job=$TMP/$(basename "$job")
        cp "$job" "$plan_job"
        # shellcheck disable=SC2086  # the header's arguments, split as written
        set -- ${make#analysis/digits.py }
        args=()
        for a in "$@"; do args+=("${a/#jobs\//$TMP/}"); done
        if ! made=$("$PY" "$HERE/../../analysis/digits.py" "${args[@]}" 2>&1); then
            fail "$name: its data file command failed: $made"
            continue
        fi
    fi
    if ! out=$("$ADVSWEEP" plan "$plan_job" 2>&1); then
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
