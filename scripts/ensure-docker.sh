#!/usr/bin/env bash
# ensure-docker.sh makes sure a Docker Engine answers, the compose v2 plugin is installed, and
# the Engine is a swarm manager (for `startsvc deploy` and its tests).
# It installs only what is missing: Debian's docker.io when no dockerd exists, a dockerd in the
# background when no daemon answers, compose v2 built from its Go module when
# `docker compose version` fails, and a single-node swarm on the loopback address when the
# Engine is in no swarm (compose works the same on a swarm-mode Engine). An Engine that is
# already in a swarm, as a manager or a worker, is left as it is. Safe to run repeatedly.
# SKIP_SWARM=1 leaves swarm mode alone.
set -euo pipefail

COMPOSE_VERSION="${COMPOSE_VERSION:-v2.40.3}"
log() { printf 'ensure-docker: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing the Docker Engine (Debian docker.io)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq docker.io >/dev/null
fi

if ! command -v docker >/dev/null 2>&1; then
  log "no docker client found after install"; exit 1
fi

# stale_pidfile removes a pid file whose process is gone or is not the program
# named: a killed daemon leaves one behind, and the next start refuses to run
# when that pid now belongs to something else.
stale_pidfile() {
  local file=$1 prog=$2 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null || true)
  if [ -z "$pid" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$prog" ]; then
    log "removing stale $file"
    as_root rm -f "$file"
  fi
}

if ! docker info >/dev/null 2>&1; then
  # A daemon that is still shutting down must finish before another starts.
  for _ in $(seq 1 30); do
    [ -n "$(ls /proc/*/comm 2>/dev/null | xargs grep -lx dockerd 2>/dev/null)" ] || break
    sleep 1
  done
  stale_pidfile /var/run/docker.pid dockerd
  stale_pidfile /var/run/docker/containerd/containerd.pid containerd
  log "starting dockerd in the background"
  logf="${TMPDIR:-/tmp}/startsvc-dockerd.log"
  as_root sh -c "nohup dockerd >'$logf' 2>&1 &"
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    log "dockerd did not answer within 60s; the end of $logf:"
    grep -a -v '^[[:space:]]*$' "$logf" | tail -20 >&2
    exit 1
  fi
fi

want="${COMPOSE_VERSION#v}"
have=$(docker compose version --short 2>/dev/null || true)
if [ -z "$have" ] || [ "$have" = "dev" ]; then
  log "building docker compose ${COMPOSE_VERSION} from its Go module (a few minutes on a cold cache)"
  dir=$(go mod download -json "github.com/docker/compose/v2@${COMPOSE_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { log "could not download github.com/docker/compose/v2@${COMPOSE_VERSION}"; exit 1; }
  work=$(mktemp -d)
  cp -r "$dir"/. "$work"/
  chmod -R u+w "$work"
  (cd "$work" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=${COMPOSE_VERSION}" \
    -o docker-compose ./cmd)
  if [ "$(id -u)" -eq 0 ]; then plugdir=/usr/local/lib/docker/cli-plugins; else plugdir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"; fi
  mkdir -p "$plugdir"
  install -m 0755 "$work/docker-compose" "$plugdir/docker-compose"
  rm -rf "$work"
fi

log "compose $(docker compose version --short) (wanted ${want} when built here)"

swarm=$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || true)
if [ "${SKIP_SWARM:-}" != 1 ] && [ "$swarm" = inactive ]; then
  log "making this Engine a single-node swarm (docker swarm init --advertise-addr 127.0.0.1)"
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
  swarm=$(docker info --format '{{.Swarm.LocalNodeState}}')
fi
log "swarm: ${swarm:-unknown}"
log "engine $(docker version --format '{{.Server.Version}}' 2>/dev/null)"
