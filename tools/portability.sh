#!/usr/bin/env bash
# Does the README's test command pass on machines that round differently from ours?
#
# A fresh clone of this checkout's HEAD, a fresh virtualenv, then the README's test command
# (verbatim) once per numeric configuration: CPU kernels and thread counts that change the
# order of floating-point sums, as a classroom of laptops would. Each run writes its notebooks'
# RESULTS figures; at the end a table shows how far each figure moved from its committed
# value in each configuration, next to its stated tolerance (minigrad.results.TOLERANCES).
#
#   MINIGRAD_DATA=/path/to/data tools/portability.sh            # every configuration
#   MINIGRAD_DATA=/path/to/data tools/portability.sh prescott   # only the named ones
#
# Configurations (vary these only here; CI runs with the machine's environment as it is):
#   default     the machine's environment as it is
#   prescott    OPENBLAS_CORETYPE=Prescott: OpenBLAS's SSE3 kernels, another summation order
#   threads1    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
#   threads2    OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 (notebooks 04 and 06 otherwise pin 1)
#   numpy-sse   NumPy's AVX2/AVX-512 loops switched off (x86-64 only): the float32 sums and
#               exp/log of a CPU without them
# Exit status 0 when every configuration passed. The work folder is kept for inspection.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
all=(default prescott threads1 threads2 numpy-sse)
configs=("$@")
[ ${#configs[@]} -eq 0 ] && configs=("${all[@]}")

settings() {
  case "$1" in
    default) echo "" ;;
    prescott) echo "OPENBLAS_CORETYPE=Prescott" ;;
    threads1) echo "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1" ;;
    threads2) echo "OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2" ;;
    numpy-sse) echo "NPY_DISABLE_CPU_FEATURES=X86_V3,X86_V4,AVX512_ICL,AVX512_SPR" ;;
    *) return 1 ;;
  esac
}
for c in "${configs[@]}"; do
  settings "$c" >/dev/null || { echo "unknown configuration '$c'; choose from: ${all[*]}" >&2; exit 2; }
done
if [ -z "${MINIGRAD_DATA:-}" ] || [ "${MINIGRAD_DATA}" = synthetic ]; then
  echo "note: MINIGRAD_DATA is not set to the real data: notebooks run on synthetic stand-ins," \
       "compared leniently, and no figure is checked" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/minigrad-portability.XXXXXX")
echo "work folder: $work"
git clone -q "$repo" "$work/repo" || exit 1
python3 -m venv "$work/venv" || exit 1
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
cd "$work/repo" || exit 1
cmd=$(python3 - <<'PY'
import re
text = open("README.md", encoding="utf-8").read()
print(re.search(r"<!-- test-command -->\s*```bash\n(.+?)\n```", text, re.S).group(1).strip())
PY
) || exit 1
echo "test command: $cmd"

status=0
mkdir -p "$work/logs" "$work/results"
for c in "${configs[@]}"; do
  set_env=$(settings "$c")
  if [ "$c" = numpy-sse ] && [ "$(uname -m)" != x86_64 ]; then
    echo "$c: skipped (x86-64 only)"
    continue
  fi
  start=$(date +%s)
  # shellcheck disable=SC2086
  env $set_env MINIGRAD_RESULTS_OUT="$work/results/$c" bash -c "$cmd" > "$work/logs/$c.log" 2>&1
  rc=$?
  summary=$(grep -E "^=+ .*(passed|failed|error).* =+$" "$work/logs/$c.log" | tail -n 1)
  echo "$c [${set_env:-as is}]: exit $rc in $(( $(date +%s) - start )) s: ${summary:-no pytest summary}"
  [ $rc -eq 0 ] || status=1
done

echo
echo "RESULTS figures: largest |re-executed - committed| per configuration"
runs=()
for c in "${configs[@]}"; do [ -d "$work/results/$c" ] && runs+=("$work/results/$c"); done
if [ ${#runs[@]} -gt 0 ]; then
  python3 -m minigrad.results --drift "${runs[@]}" || status=1
else
  echo "(no figures were written: no real data, or every run failed before the notebooks)"
fi
echo "logs: $work/logs"
exit $status
