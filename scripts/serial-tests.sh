#!/usr/bin/env bash
# Run the `serial` tests of a layer; a layer with none of them is fine (pytest's exit code 5).
"$@"
status=$?
if [ "$status" -eq 5 ]; then exit 0; fi
exit "$status"
