#!/bin/sh
# run.sh: the embedded default for `make run`: data in ./data, GROUP_ID
# "default", loopback only, and a random AUTH_TOKEN printed once if unset.
set -eu
: "${GROUP_ID:=default}"
: "${DATA_DIR:=./data}"
: "${BIND_ADDRESS:=127.0.0.1}"
if [ -z "${AUTH_TOKEN:-}" ]; then
	AUTH_TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
	echo "AUTH_TOKEN=$AUTH_TOKEN  (generated for this run; send it as x-auth-token)"
fi
export GROUP_ID DATA_DIR BIND_ADDRESS AUTH_TOKEN
exec build/groupvaultd
