#!/bin/bash
# skip-if-missing.sh: runs TOOL ARGS..., or reports the test as skipped when the build found no TOOL (an empty first argument).
[[ -n ${1-} ]] || { echo "SKIP: the tool this test needs is missing"; exit 77; }
exec "$@"
