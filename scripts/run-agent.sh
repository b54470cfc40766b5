#!/bin/sh
# run-agent.sh: the embedded default for `make run-agent`: the process
# backend, registry and vault data in ./agent-data, loopback only, vault
# ports 18800-19799, and a random AGENT_AUTH_TOKEN printed once if unset.
set -eu
: "${AGENT_DATA_DIR:=./agent-data}"
: "${AGENT_BACKEND:=process}"
if [ -z "${AGENT_AUTH_TOKEN:-}" ]; then
	AGENT_AUTH_TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
	echo "AGENT_AUTH_TOKEN=$AGENT_AUTH_TOKEN  (generated for this run; send it as x-auth-token)"
fi
export AGENT_DATA_DIR AGENT_BACKEND AGENT_AUTH_TOKEN
exec build/groupvault-agent
