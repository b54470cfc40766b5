#!/bin/sh
# image.sh: builds the groupvaultd container image offline (`make image`):
# a root filesystem of build/groupvaultd, exactly the shared objects it links
# (ldd), a non-root user and /app/data, built FROM scratch with podman (or
# docker). No registry is contacted; nothing secret goes into the image.
#   GV_ENGINE   the engine command (default: podman, else docker), may carry
#               options, e.g. "podman --root /tmp/x/root --runroot /tmp/x/run"
#   GV_BINARY   the daemon to ship (default: build/groupvaultd)
#   GV_TAGS     the names to tag (default: groupvault:local ocmt-group-vault:local)
set -eu
bin=${GV_BINARY:-build/groupvaultd}
tags=${GV_TAGS:-groupvault:local ocmt-group-vault:local}
uid=10001
if [ -z "${GV_ENGINE:-}" ]; then
	if command -v podman >/dev/null 2>&1; then GV_ENGINE=podman
	elif command -v docker >/dev/null 2>&1; then GV_ENGINE=docker
	else echo "image: neither podman nor docker is installed" >&2; exit 1
	fi
fi
[ -x "$bin" ] || { echo "image: $bin is missing (run make first)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/gv-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$work/data/app/data"

# The daemon, stripped, and each object the loader resolves for it, at the
# path ldd shows (the loader finds them in its default multiarch paths).
# glibc also dlopens libgcc_s when a thread exits (pthread_exit unwinds):
# without it the daemon dies at its first worker thread's end.
cp "$bin" "$root/usr/local/bin/groupvaultd"
strip --strip-unneeded "$root/usr/local/bin/groupvaultd" 2>/dev/null || true
gcc_s=$(ldconfig -p | awk '$1 == "libgcc_s.so.1" && /x86-64|AArch64|64bit/ { print $NF; exit }')
[ -n "$gcc_s" ] || { echo "image: libgcc_s.so.1 not found (ldconfig -p)" >&2; exit 1; }
{ ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'; echo "$gcc_s"; } |
while read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done

# Users and groups by file only (no nsswitch.conf: glibc falls back to files).
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\ngroupvault:x:%s:%s:groupvault:/app:/usr/sbin/nologin\n' \
	"$uid" "$uid" >"$root/etc/passwd"
printf 'root:x:0:\ngroupvault:x:%s:\n' "$uid" >"$root/etc/group"
chmod 1777 "$root/tmp"
chmod 0700 "$work/data/app/data"

# Two archives so ownership does not depend on who runs this: the system
# files belong to root, /app/data to the vault's user.
tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$work/root.tar" .
tar --numeric-owner --owner=$uid --group=$uid -C "$work/data" -cf "$work/data.tar" app/data

# Container defaults live here, not in the daemon: it listens on all
# addresses of the container and keeps its data in the mounted /app/data.
cat >"$work/Containerfile" <<EOT
FROM scratch
ADD root.tar /
ADD data.tar /
ENV BIND_ADDRESS=0.0.0.0 DATA_DIR=/app/data PORT=18790
USER $uid:$uid
WORKDIR /app
EXPOSE 18790
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 CMD ["/usr/local/bin/groupvaultd", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/groupvaultd"]
EOT

set -- $tags
first=$1
fmt=""
case "$GV_ENGINE" in podman*) fmt="--format docker" ;; esac # docker format keeps HEALTHCHECK
# shellcheck disable=SC2086
$GV_ENGINE build $fmt --pull=never -q -t "$first" -f "$work/Containerfile" "$work" >/dev/null
shift
for t in "$@"; do
	# shellcheck disable=SC2086
	$GV_ENGINE tag "$first" "$t"
done
# shellcheck disable=SC2086
size=$($GV_ENGINE image inspect --format '{{.Size}}' "$first")
echo "image: $tags ($((size / 1024)) KiB)"
