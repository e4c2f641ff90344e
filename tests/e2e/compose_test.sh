#!/usr/bin/env bash
# End-to-end test of the Docker Compose deployment (ctest: compose_e2e, and
# compose_e2e_postgres for `compose_test.sh postgres`).
#
#   compose_test.sh [sqlite|postgres]
#
# Builds the image, brings up 2 registries + 3 replicas under a project name of its
# own (with `postgres`: also the postgres service of docker-compose.postgres.yml,
# which must be healthy by pg_isready, and the replicas on it), and through
# `docker-compose run --rm client ...` checks that:
#   1. all 3 replicas register;
#   2. 30 prime calls in ONE client session spread over the 3 replicas;
#   3. a poll created, voted on and read back through different replicas shows
#      every vote on every replica;
#   4. `down` (volume kept) and `up` again keeps the poll and its votes (with
#      `postgres`: the votes are rows in PostgreSQL, and no replica logged the
#      password);
#   5. a stopped replica exits 0 and is deregistered at once (before its lease
#      could expire), and calls then go to the other two only;
#   6. with registry1 stopped, new clients find the replicas through registry2;
#   7. with both registries stopped, a new client answers from its snapshot.
# Always tears the project down with `down -v`, whatever failed.
#
# Exit codes: 0 passed; 1 failed (the reason and the containers' logs are
# printed); 77 skipped: no Docker daemon could be started here (ctest reports
# it as skipped with the reason).
#
# Environment: BEACON_COMPOSE  compose command ("docker compose" or
#                              "docker-compose"; default: whichever works)
#              BEACON_E2E_IMAGE image tag to build (default beacon:e2e)
#              BEACON_E2E_KEEP_LOGS=1 print container logs even on success
set -euo pipefail

readonly kSkip=77
readonly kStore="${1:-sqlite}"
[[ "${kStore}" == sqlite || "${kStore}" == postgres ]] ||
  { echo "usage: $0 [sqlite|postgres]" >&2; exit 2; }
kRoot="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly kRoot
readonly kProject="beacon_e2e_$$"
readonly kLeaseTtlMs=15000     # long, so only deregistration (not expiry) can pass step 5
readonly kReplicas=(replica1 replica2 replica3)
readonly kStart=${SECONDS}

log() { printf '[compose_e2e %4ds] %s\n' "$((SECONDS - kStart))" "$*"; }
fail() { log "FAIL: $*"; exit 1; }
skip() { log "SKIP: $*"; exit "${kSkip}"; }

# --- Docker available? ------------------------------------------------------
command -v python3 >/dev/null 2>&1 || skip "python3 is needed to read the client's JSON output"
if ! docker info >/dev/null 2>&1; then
  log "no Docker daemon answers; trying scripts/docker-setup"
  if ! setup_out="$("${kRoot}/scripts/docker-setup" 2>&1)"; then
    printf '%s\n' "${setup_out}" | tail -n 20
    skip "no Docker daemon could be started on this machine: $(printf '%s\n' "${setup_out}" | grep 'error:' | tail -n 1)"
  fi
fi
if [[ -n "${BEACON_COMPOSE:-}" ]]; then
  read -r -a compose_cmd <<<"${BEACON_COMPOSE}"
elif docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose_cmd=(docker-compose)
else
  "${kRoot}/scripts/docker-setup" || true
  command -v docker-compose >/dev/null 2>&1 || skip "neither 'docker compose' nor docker-compose is available"
  compose_cmd=(docker-compose)
fi
log "using: ${compose_cmd[*]} ($("${compose_cmd[@]}" version --short 2>/dev/null || echo '?')), project ${kProject}"

export BEACON_IMAGE="${BEACON_E2E_IMAGE:-beacon:e2e}"
export BEACON_POSTGRES_IMAGE="${BEACON_E2E_POSTGRES_IMAGE:-beacon-postgres:e2e}"
export BEACON_LEASE_TTL_MS="${kLeaseTtlMs}"
# The dashboards on free loopback ports of the host (8080/8081 may be taken).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
BEACON_DASHBOARD_PORT="$(free_port)"
BEACON_DASHBOARD2_PORT="$(free_port)"
export BEACON_DASHBOARD_PORT BEACON_DASHBOARD2_PORT
# A fresh password per run; step 4 checks that no replica logged it.
BEACON_PG_PASSWORD="e2e-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export BEACON_PG_PASSWORD
compose_files=(-f "${kRoot}/docker-compose.yml")
services=(registry1 registry2)
if [[ "${kStore}" == postgres ]]; then
  compose_files+=(-f "${kRoot}/docker-compose.postgres.yml")
  services+=(postgres)
fi
services+=("${kReplicas[@]}")
compose() { "${compose_cmd[@]}" -p "${kProject}" "${compose_files[@]}" "$@"; }
# The same with a deadline, so a hung step fails (and tears down) well before
# ctest's timeout would kill the script: compose_within SECONDS ARGS...
compose_within() {
  local seconds="$1"
  shift
  timeout "${seconds}" "${compose_cmd[@]}" -p "${kProject}" "${compose_files[@]}" "$@"
}
# One client command (or a session fed on stdin); stderr kept apart so the
# JSON on stdout is clean.
client() { compose_within 120 run --rm -T client "$@" 2>>"${work}/client.err"; }

# A run killed outright (ctest's timeout) cannot clean up after itself: take
# down the projects of earlier runs whose script is no longer alive.
for stale in $(docker ps -a --format '{{.Label "com.docker.compose.project"}}' 2>/dev/null |
               grep -E '^beacon_e2e_[0-9]+$' | sort -u); do
  if ! kill -0 "${stale#beacon_e2e_}" 2>/dev/null; then
    log "removing the leftovers of an earlier run: ${stale}"
    # Both files, so a PostgreSQL run's volume goes too.
    "${compose_cmd[@]}" -p "${stale}" -f "${kRoot}/docker-compose.yml" \
      -f "${kRoot}/docker-compose.postgres.yml" down -v --remove-orphans -t 5 \
      >/dev/null 2>&1 || true
  fi
done

work="$(mktemp -d)"
teardown() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ ${rc} -ne 0 && ${rc} -ne ${kSkip} || -n "${BEACON_E2E_KEEP_LOGS:-}" ]]; then
    log "containers:"
    compose ps -a 2>/dev/null || compose ps 2>/dev/null || true
    log "last container logs:"
    compose logs --no-color --tail 40 2>/dev/null || true
    if [[ -s "${work}/client.err" ]]; then
      log "client stderr (last lines):"
      tail -n 20 "${work}/client.err"
    fi
  fi
  log "tearing down (down -v)"
  compose_within 120 down -v --remove-orphans -t 20 >/dev/null 2>&1 || log "warning: down -v failed"
  rm -rf "${work}"
  log "done in $((SECONDS - kStart))s, exit ${rc}"
  exit "${rc}"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Reads client JSON output (one object per line) on stdin and runs a check
# written in Python on `objs` (the parsed lines), after failing on any
# {"error": ...} line. Non-JSON lines are ignored. Prints what the check
# prints; exits non-zero when the check raises.
json_check() {
  # shellcheck disable=SC2016  # Python code, not shell
  python3 -c '
import json, sys
objs = []
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{") or line.startswith("["):
        try:
            objs.append(json.loads(line))
        except ValueError:
            pass
errors = [o["error"] for o in objs if isinstance(o, dict) and "error" in o]
assert not errors, "the client reported errors: %r" % errors
'"$1"
}

# --- 0. base image and build --------------------------------------------------
"${kRoot}/scripts/docker-base" || fail "could not provide the debian:bookworm-slim base image"
log "building ${BEACON_IMAGE}"
build_start=${SECONDS}
# Every Beacon service names the same image; building one service builds it.
to_build=(registry1)
[[ "${kStore}" == postgres ]] && to_build+=(postgres)
compose_within 600 build --force-rm "${to_build[@]}" >"${work}/build.log" 2>&1 ||
  { tail -n 40 "${work}/build.log"; fail "image build failed (or took over 600s)"; }
log "image built in $((SECONDS - build_start))s"
# Keep the build stage (its apt layer is the slow part of a cold build) under a
# tag of its own, a cached no-op rebuild, so that pruning the stale layers of
# earlier builds (the classic builder leaves them untagged, ~600 MB each) keeps
# it. Only images with this project's label are pruned.
if DOCKER_BUILDKIT=0 timeout 300 docker build -q --target build -t "${BEACON_IMAGE}-build" "${kRoot}" \
    >/dev/null 2>&1; then
  docker image prune -f --filter label=beacon.stage >/dev/null 2>&1 || true
else
  log "warning: could not tag the build stage; stale layers not pruned"
fi

# --- 1. up, and 3 replicas in the registry ------------------------------------
log "starting registry and replicas"
compose_within 180 up -d --no-build "${services[@]}" >"${work}/up.log" 2>&1 ||
  { cat "${work}/up.log"; fail "compose up failed"; }

# Prints the sorted instance ids the registry lists for `service`.
instances_of() {
  client --json servers "$1" | json_check '
print(" ".join(sorted(i["id"] for o in objs for svc in o["services"] for i in svc["instances"])))'
}

wait_for_instances() {  # wait_for_instances SERVICE "EXPECTED IDS" DEADLINE_S
  local deadline=$((SECONDS + $3)) got=""
  while ((SECONDS < deadline)); do
    got="$(instances_of "$1" || true)"
    [[ "${got}" == "$2" ]] && return 0
    sleep 1
  done
  log "registry lists for $1: '${got}', expected '$2'"
  return 1
}

wait_for_instances prime "replica1 replica2 replica3" 120 || fail "3 replicas did not register in time"
# The dashboard's JSON view on the host's loopback lists the same three.
dashboard_ids() {
  python3 -c '
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    print(" ".join(sorted(i["id"] for i in json.load(r)["instances"])))' \
    "http://127.0.0.1:${BEACON_DASHBOARD_PORT}/v1/services/prime" 2>/dev/null
}
deadline=$((SECONDS + 30))
until [[ "$(dashboard_ids)" == "replica1 replica2 replica3" ]]; do
  ((SECONDS < deadline)) || fail "the dashboard on 127.0.0.1:${BEACON_DASHBOARD_PORT} does not list 3 replicas"
  sleep 1
done
log "dashboard on 127.0.0.1:${BEACON_DASHBOARD_PORT} lists the 3 replicas"
if [[ "${kStore}" == postgres ]]; then
  health="$(docker inspect -f '{{.State.Health.Status}}' "$(compose ps -q postgres)")"
  [[ "${health}" == healthy ]] || fail "postgres is '${health}', expected healthy (pg_isready)"
  log "postgres healthy (pg_isready); the replicas started on it"
fi
wait_for_instances voting "replica1 replica2 replica3" 30 || fail "3 voting replicas did not register"
log "3 replicas registered for prime and voting"

# --- 2. 30 primes in one session spread over the 3 replicas -------------------
for n in $(seq 1 30); do echo "prime ${n}"; done | client --json shell >"${work}/primes.out" ||
  fail "the prime session failed: $(tail -n 5 "${work}/primes.out")"
json_check '
from collections import Counter
served = [o["served_by"] for o in objs]
count = Counter(served)
print("prime calls per replica:", dict(sorted(count.items())))
assert len(served) == 30, "expected 30 answers, got %d" % len(served)
assert sorted(count) == ["replica1", "replica2", "replica3"], "not spread over all 3 replicas"
assert min(count.values()) >= 5, "badly skewed spread"
' <"${work}/primes.out" || fail "primes were not spread over the 3 replicas"

# --- 3. a poll, votes and results through different replicas ------------------
client --json create-poll "Best colour?" red green blue >"${work}/poll.out" || fail "create-poll failed"
poll="$(json_check '
print(objs[0]["poll"]["poll_id"])' <"${work}/poll.out")" || fail "create-poll gave no poll id: $(cat "${work}/poll.out")"
log "created poll ${poll}"

# Round-robin in one session: consecutive calls go to different replicas.
# Hedging off: this checks the rotation itself; with hedging a vote slower
# than the hedge delay (PostgreSQL's commit in a container can be) is answered
# by whichever copy wins, and the replica with an abandoned copy is skipped.
printf '%s\n' "vote ${poll} alice red" "vote ${poll} bob green" "vote ${poll} carol red" \
  "vote ${poll} dave blue" "vote ${poll} erin red" "vote ${poll} alice red" \
  "results ${poll}" "results ${poll}" "results ${poll}" |
  client --json --hedge-ms off shell >"${work}/votes.out" || fail "the voting session failed: $(tail -n 5 "${work}/votes.out")"

# kResultsCheck: `results` = the results answers, counts(o) = {option: votes}.
readonly kResultsCheck='
def counts(o):
    return {c["option"]: c["votes"] for c in o["counts"]}
results = [o for o in objs if "counts" in o]
'
json_check "${kResultsCheck}"'
votes = [o for o in objs if "vote_id" in o]
assert len(votes) == 6, "expected 6 vote receipts, got %d" % len(votes)
assert [v["repeated"] for v in votes] == [False] * 5 + [True], "only the last vote repeats one"
vote_servers = sorted(set(v["served_by"] for v in votes))
print("votes served by:", vote_servers)
assert len(vote_servers) >= 2, "votes did not go through different replicas"
assert len(results) == 3, "expected 3 results answers, got %d" % len(results)
servers = [o["served_by"] for o in results]
print("results served by:", servers)
assert len(set(servers)) == 3, "results were not read through 3 different replicas"
for o in results:
    assert counts(o) == {"red": 3, "green": 1, "blue": 1}, "wrong counts: %r" % counts(o)
' <"${work}/votes.out" || fail "votes/results were wrong: $(cat "${work}/votes.out")"
log "votes counted the same on every replica"

# --- 4. down keeps the volume; up again shows the same poll --------------------
log "down (keeping the volume) and up again"
compose_within 120 down -t 20 >"${work}/down.log" 2>&1 || { cat "${work}/down.log"; fail "compose down failed"; }
compose_within 180 up -d --no-build "${services[@]}" >"${work}/up.log" 2>&1 ||
  { cat "${work}/up.log"; fail "compose up (second time) failed"; }
wait_for_instances voting "replica1 replica2 replica3" 120 || fail "replicas did not come back after down/up"
client --json results "${poll}" | json_check "${kResultsCheck}"'
assert len(results) == 1 and counts(results[0]) == {"red": 3, "green": 1, "blue": 1}, \
    "votes lost across down/up: %r" % objs
' || fail "the poll's votes did not survive down/up"
log "poll ${poll} kept its votes across down/up"

if [[ "${kStore}" == postgres ]]; then
  # The server's socket is in /tmp (docker/postgres/entrypoint.sh).
  rows="$(compose_within 60 exec -T postgres psql -h /tmp -U beacon -d beacon -tAc \
    "SELECT count(*) FROM votes WHERE poll_id = ${poll}" 2>>"${work}/client.err" |
    tr -d '[:space:]' || true)"
  [[ "${rows}" == 5 ]] || fail "PostgreSQL holds '${rows}' votes of poll ${poll}, expected 5"
  log "the 5 votes are rows in PostgreSQL"
  replica_logs="$(compose logs --no-color "${kReplicas[@]}" 2>&1)"
  grep -q 'postgresql://beacon:\*\*\*@postgres' <<<"${replica_logs}" ||
    fail "no replica logged the redacted database URI"
  if grep -qF -- "${BEACON_PG_PASSWORD}" <<<"${replica_logs}"; then
    fail "a replica logged the database password"
  fi
  log "replicas log the URI with the password redacted"
fi

# --- 5. a stopped replica deregisters -----------------------------------------
log "stopping replica3"
stop_start=${SECONDS}
compose_within 60 stop -t 20 replica3 >/dev/null 2>&1 || fail "compose stop replica3 failed"
log "replica3 stopped in $((SECONDS - stop_start))s"
cid="$(compose ps -q replica3)"
exit_code="$(docker inspect -f '{{.State.ExitCode}}' "${cid}")"
[[ "${exit_code}" == 0 ]] || fail "replica3 exited with ${exit_code} on SIGTERM, expected 0"
# Deregistration is immediate; lease expiry would take ${kLeaseTtlMs} ms.
wait_for_instances prime "replica1 replica2" 3 ||
  fail "replica3 still listed 3s after it stopped (not deregistered)"
log "replica3 deregistered"

for n in $(seq 1 10); do echo "prime ${n}"; done | client --json shell >"${work}/after.out" ||
  fail "prime calls failed after replica3 stopped"
json_check '
from collections import Counter
served = [o["served_by"] for o in objs]
print("prime calls per replica:", dict(sorted(Counter(served).items())))
assert len(served) == 10, "expected 10 answers, got %d" % len(served)
assert set(served) == {"replica1", "replica2"}, "calls went to %r" % set(served)
' <"${work}/after.out" || fail "calls after the stop did not go to the 2 remaining replicas"

# --- 6. one registry stopped: everything goes on through the other ----------
log "stopping registry1"
compose_within 60 stop -t 10 registry1 >/dev/null 2>&1 || fail "compose stop registry1 failed"
wait_for_instances prime "replica1 replica2" 10 ||
  fail "a new client did not find the replicas through registry2"
for n in $(seq 1 10); do echo "prime ${n}"; done | client --json shell >"${work}/one.out" ||
  fail "prime calls failed with registry1 stopped"
json_check '
served = [o["served_by"] for o in objs if "served_by" in o]
assert len(served) == 10, "expected 10 answers, got %d" % len(served)
' <"${work}/one.out" || fail "calls with registry1 stopped went wrong: $(cat "${work}/one.out")"
log "registry1 stopped: clients go on through registry2"

# --- 7. every registry stopped: a new client answers from its snapshot -------
log "stopping registry2 too"
compose_within 60 stop -t 10 registry2 >/dev/null 2>&1 || fail "compose stop registry2 failed"
client --json servers prime | json_check '
svc = objs[0]["services"][0]
print("with no registry: source", svc["source"], "stale", svc["stale"], "age_ms", svc["age_ms"])
assert svc["stale"] and svc["source"] == "snapshot", "not from the snapshot: %r" % svc
assert sorted(i["id"] for i in svc["instances"]) == ["replica1", "replica2"], svc
' || fail "with every registry stopped the client did not answer from its snapshot"
client --json prime 97 | json_check '
assert objs[0]["is_prime"], objs
' || fail "prime 97 failed with every registry stopped"
log "no registry: a new client answers from its snapshot"

log "PASS"
