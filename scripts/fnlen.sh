#!/bin/sh
# fnlen.sh: lists C functions longer than FN_MAX lines (default 80) and files
# longer than FILE_MAX lines (default 900) under src/ (or the files given).
# A review aid: `make test` does not run it. Exit status 1 if any is listed.
# Counts from the signature to the closing brace. Relies on the house format (clang-format): a function opens with "{" alone
# at column 0 and closes with "}" at column 0; tables ("= {") are skipped.
set -eu
cd "$(dirname "$0")/.."
FN_MAX=${FN_MAX:-80}
FILE_MAX=${FILE_MAX:-900}
[ $# -gt 0 ] || set -- src/*.c src/*.h
awk -v fmax="$FN_MAX" -v filemax="$FILE_MAX" '
FNR == 1 { if (prevfile != "" && prevlines > filemax) { printf "file %5d  %s\n", prevlines, prevfile; bad = 1 }
           name = ""; start = 0 }
{ prevfile = FILENAME; prevlines = FNR }
/^[A-Za-z_].*\(/ && !/;[ \t]*$/ && !/=/ { sig = $0; sigline = FNR }
/^\{[ \t]*$/ { start = sigline; name = sig }
/^\}/ && start > 0 {
	n = FNR - start + 1
	if (n > fmax) {
		fn = name; sub(/\(.*/, "", fn); sub(/.*[ *]/, "", fn)
		printf "func %5d  %s:%d %s\n", n, FILENAME, start, fn
		bad = 1
	}
	start = 0
}
END { if (prevlines > filemax) { printf "file %5d  %s\n", prevlines, prevfile; bad = 1 }
      exit bad }
' "$@"
