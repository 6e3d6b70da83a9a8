#!/usr/bin/env bash
# Mutation testing of the decision modules (`make mutate`; see docs/testing.md).
# mutmut (configured in pyproject.toml [tool.mutmut]) mutates the modules one at a time, niced, and runs the
# fast test selection there against each mutant; the table at the end is killed / total per module.
# "suspicious": the tests ran far longer than without the mutant and were stopped (often a mutated config that
# makes Numba compile a new kernel); not counted as killed in the score.
# MODULES="clipsim.sweep theory.parse" restricts the run; JOBS sets the parallel children (default 1: the machine is shared).
set -uo pipefail
PY=${PY:-.venv/bin/python}
MUTMUT="$(dirname "$PY")/mutmut"
MODULES=${MODULES:-"theory.parse clipsim.sweep clipsim.store clipsim.check clipsim.decisions clipsim.stats"}
mkdir -p mutants
printf '%-20s %7s %7s %10s %8s %7s %7s\n' module killed timeout suspicious survived "no test" score
for m in $MODULES; do
    log="mutants/$m.log"
    nice -n 10 "$MUTMUT" run --max-children "${JOBS:-1}" "$m.*" > "$log" 2>&1
    killed=$(grep -c '^🎉' "$log"); timeout=$(grep -c '^⏰' "$log")
    survived=$(grep -c "^🙁" "$log"); untested=$(grep -c "^🫥" "$log"); slow=$(grep -c "^🤔" "$log")
    total=$((killed + timeout + slow + survived + untested))
    score=$(awk -v k=$((killed + timeout)) -v t=$total 'BEGIN { printf "%.1f%%", t ? 100 * k / t : 0 }')
    printf '%-20s %7d %7d %10d %8d %7d %7s\n' "$m" "$killed" "$timeout" "$slow" "$survived" "$untested" "$score"
    grep '^🙁\|^🫥' "$log" | awk '{print $2}' > "mutants/$m.survivors"
done
echo "survivors: mutants/<module>.survivors; show one with: $MUTMUT show NAME"
