#!/bin/sh
# deps.sh: make sure the Debian packages groupvault builds and tests with are
# installed. As root it runs apt-get; otherwise it prints the one command to run.
# Usage: scripts/deps.sh build|test|fuzz|valgrind|tsan|bench
set -eu
build="gcc make pkg-config libmicrohttpd-dev libssl-dev libargon2-dev libsqlite3-dev libjansson-dev libseccomp-dev libcurl4-openssl-dev libgnutls28-dev"
# podman + runc: the image and docker-backend tests (skipped where absent).
# python3-prometheus-client: test_metrics.py parses /metrics with it.
# python3-jsonschema, python3-yaml: test_openapi.py; openssl: test_tls.py.
# catatonit: podman's pause image for the k8s pod test (kube play);
# python3-kubernetes: the k8s manifests' schema check (test_k8s.py).
test_pkgs="libcmocka-dev python3 curl mandoc podman runc python3-prometheus-client python3-jsonschema python3-yaml openssl catatonit python3-kubernetes"
fuzz_pkgs="clang"
case "${1:-build}" in
build) want="$build" ;;
test) want="$build $test_pkgs" ;;
fuzz) want="$build $test_pkgs $fuzz_pkgs" ;;
valgrind) want="$build $test_pkgs valgrind" ;;
tsan) want="$build $test_pkgs libtsan2" ;;
bench) want="$build python3 nginx-light wrk" ;;
*) echo "usage: $0 build|test|fuzz|valgrind|tsan|bench" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
	echo "deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >&2
else
	echo "deps: missing packages; run: sudo apt-get install$missing" >&2
	exit 1
fi
