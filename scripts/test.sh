#!/usr/bin/env bash
# The whole test suite: `npm test` runs this. System packages first (installed as root on
# Debian, else named), then every step even when an earlier one fails, so one broken suite
# never hides the others; the exit status is non-zero when any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-system-packages.sh || exit 1

steps=(
  "typecheck|npm run --silent typecheck"
  "lint|npm run --silent lint"
  "web checks|npm run --silent check:web"
  "unit and integration (vitest)|npx vitest run"
  "svelte component specs|npm run --silent test:web"
  "end to end (playwright)|npm run --silent test:e2e"
)
passed=0
failed=()
for step in "${steps[@]}"; do
  name="${step%%|*}"
  cmd="${step#*|}"
  echo "=== $name: $cmd"
  start=$SECONDS
  if bash -c "$cmd"; then
    passed=$((passed + 1))
    echo "=== $name: passed in $((SECONDS - start)) s"
  else
    failed+=("$name")
    echo "=== $name: FAILED after $((SECONDS - start)) s"
  fi
done
[ ${#failed[@]} -gt 0 ] && echo "failed steps: ${failed[*]}"
echo "steps: $passed passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
