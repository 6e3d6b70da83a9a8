#!/usr/bin/env bash
# Mutation testing of the decision modules (`make mutate`; see docs/testing.md).
# mutmut (configured in pyproject.toml [tool.mutmut]) mutates the modules one at a time, niced, and runs the
# fast test selection there against each mutant (only the tests that reach the mutated function).
# The table at the end counts mutmut's verdicts per module from `mutmut results --all true`:
#   killed / timeout (counted as killed, as mutmut does) / suspicious (the test run ended abnormally, e.g. by
#   a signal; not counted as killed) / survived / no tests (no selected test reaches it).
# MODULES="clipsim.sweep theory.parse" restricts the run; JOBS sets the parallel children (default 1: the
# machine is shared). FUNCTIONS="x_holm x_quantile_ci" restricts the run to those functions' mutants
# (mutmut's names: x_<function>, xǁ<Class>ǁ<method>). SURVIVORS=1 reruns only the mutants that survived
# the last run, or were suspicious (after adding tests).
set -uo pipefail
PY=${PY:-.venv/bin/python}
MUTMUT="$(dirname "$PY")/mutmut"
MODULES=${MODULES:-"theory.parse clipsim.sweep clipsim.store clipsim.check clipsim.decisions clipsim.stats"}
mkdir -p mutants
# mutmut forks each mutant's test run from a process that has already run simulations: Numba's default
# threading layer here (GNU OpenMP) terminates a forked child that uses it again, which mutmut reports as
# "suspicious". The workqueue layer is fork-safe; results are bitwise the same whatever the layer.
export NUMBA_THREADING_LAYER=workqueue
for m in $MODULES; do
    log="mutants/$m.log"
    echo "load before $m: $(cut -d' ' -f1-3 /proc/loadavg)" >> mutants/load.log
    if [ "${SURVIVORS:-0}" = 1 ] && [ -s "mutants/$m.survivors" ]; then
        # shellcheck disable=SC2046
        nice -n 10 "$MUTMUT" run --max-children "${JOBS:-1}" $(cat "mutants/$m.survivors") > "$log.rerun" 2>&1
    elif [ -n "${FUNCTIONS:-}" ]; then
        # only the named functions' mutants, e.g. FUNCTIONS="x_holm x_clopper_pearson xǁLoglogSlopeǁcontains"
        pats=(); for f in $FUNCTIONS; do pats+=("$m.${f}__mutmut_*"); done
        nice -n 10 "$MUTMUT" run --max-children "${JOBS:-1}" "${pats[@]}" > "$log" 2>&1
    else
        nice -n 10 "$MUTMUT" run --max-children "${JOBS:-1}" "$m.*" > "$log" 2>&1
    fi
    echo "load after $m: $(cut -d' ' -f1-3 /proc/loadavg)" >> mutants/load.log
done
"$MUTMUT" results --all true 2>/dev/null | sed 's/^ *//' > mutants/results.txt
printf '%-20s %7s %7s %7s %10s %8s %7s %7s\n' module mutants killed timeout suspicious survived "no test" score
for m in $MODULES; do
    mine=$(grep "^$m\.x" mutants/results.txt)
    count() { printf '%s\n' "$mine" | grep -c ": $1\$"; }
    killed=$(count killed); timeout=$(count timeout); slow=$(count suspicious)
    survived=$(count survived); untested=$(count "no tests"); total=$(printf '%s\n' "$mine" | grep -c .)
    score=$(awk -v k=$((killed + timeout)) -v t="$total" 'BEGIN { printf "%.1f%%", t ? 100 * k / t : 0 }')
    printf '%-20s %7d %7d %7d %10d %8d %7d %7s\n' "$m" "$total" "$killed" "$timeout" "$slow" "$survived" "$untested" "$score"
    printf '%s\n' "$mine" | grep ': survived$\|: no tests$\|: suspicious$' | cut -d: -f1 > "mutants/$m.survivors"
done
echo "survivors: mutants/<module>.survivors; show one with: $MUTMUT show NAME"
