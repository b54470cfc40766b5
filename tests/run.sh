#!/bin/sh
# run.sh: runs the unit test binaries given as arguments, then the black-box
# suite, and ends with one line 'N passed, N failed'. Exit status 1 on any
# failure.
set -u
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "$@"; do
	"$t" >"$log" 2>&1
	rc=$?
	ok=$(grep -c '^\[       OK \]' "$log")
	run=$(grep -c '^\[ RUN      \]' "$log")
	passed=$((passed + ok))
	if [ "$rc" -ne 0 ] || [ "$ok" -ne "$run" ]; then
		bad=$((run - ok))
		[ "$bad" -gt 0 ] || bad=1
		failed=$((failed + bad))
		echo "FAIL $(basename "$t") (exit $rc):"
		cat "$log"
	else
		echo "ok   $(basename "$t"): $ok tests"
	fi
done
# Fuzz corpora, replayed once each (REPLAY holds the driver binaries).
for r in ${REPLAY:-}; do
	name=$(basename "$r")
	if "$r" "fuzz/corpus/${name#fuzz_}" >"$log" 2>&1; then
		passed=$((passed + 1))
		echo "ok   $name: $(tail -n 1 "$log")"
	else
		failed=$((failed + 1))
		echo "FAIL $name:"
		cat "$log"
	fi
done
python3 tests/api/run.py >"$log" 2>&1
rc=$?
cat "$log"
ap=$(sed -n 's/^api: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log")
af=$(sed -n 's/^api: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log")
passed=$((passed + ${ap:-0}))
failed=$((failed + ${af:-0}))
if [ "$rc" -ne 0 ] && [ "${af:-0}" -eq 0 ]; then
	failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
