#!/usr/bin/env bash
# Renders every reference result file into results/tables.md (vmalab compare --markdown).
set -euo pipefail
V=.venv/bin/vmalab
{
  echo "# Reference tables"
  echo
  echo "Rendered from \`results/reference/*.json\` by \`results/render-tables.sh\`"
  echo "(\`vmalab compare FILE --markdown\`); the machine and commands are in README.md."
  for f in fast lookup fanout insert overlap gap trace rangelock io threaded threaded-repeat threaded-index threaded-sweep-8-16 threaded-sweep-128-16 threaded-sweep-32-64; do
    echo
    echo "## $f ($f.json)"
    echo
    if [ "$f" = rangelock ]; then
      $V compare "results/reference/$f.json" --markdown --baseline rwsem
    else
      $V compare "results/reference/$f.json" --markdown
    fi
  done
} > results/tables.md
