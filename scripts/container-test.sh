#!/usr/bin/env bash
# Builds the container image from the Dockerfile with podman and checks what it promises, against
# the running container:
#   - the image's settings: non-root USER, DATA_DIR as a VOLUME, EXPOSE, HEALTHCHECK on /health/live,
#     NODE_ENV=production, node as the command; no compiler and no dev tools in it, and the service's
#     own packages (package.json "serviceDependencies") at the versions package-lock.json pins;
#   - it starts in production (key from a secret file), /health/live answers on a published
#     loopback port, a user registers and logs in over HTTP and /auth/me wants token and cookie;
#   - the process is node itself as PID 1, running as uid/gid 10001, with private files in /data;
#   - `podman healthcheck run` reports healthy;
#   - SIGTERM (`podman stop`) ends it cleanly: exit code 0 within SHUTDOWN_TIMEOUT, the session
#     snapshot written;
#   - a new container on the same volume keeps the data: the user logs in again (SQLite) and the
#     old token and cookie still work (the session snapshot was restored);
#   - with REDIS_URL_TEST and DATABASE_URL_TEST (this machine's Redis and PostgreSQL, as for the
#     test suites): the modes compose.yaml wires, SESSION_STORE=redis and sql with users in
#     PostgreSQL, in a database the script creates and drops.
#
# The base image is node:20-bookworm-slim from a registry when one is reachable; here none is, so
# scripts/container-base.sh builds a local stand-in (cached: nothing to do once it exists) and the
# build uses it (BASE_IMAGE). It finds by trying which podman settings this machine needs: plain,
# or, where the process may not raise resource limits (no CAP_SYS_RESOURCE) or crun refuses the
# cgroup layout, runc with the container's limits set to this shell's; the overlay storage driver,
# or vfs in a separate storage root when overlay cannot be used; OCI isolation for the build, or
# chroot. Run as root. Prints "container-test: passed (N checks)" and exits 0, or names the check
# that failed, shows the container's log and exits 1. Removes its containers, volume and secret;
# keeps the images (the build cache).
#
# Environment: IMAGE (localhost/fingerprint-auth:test), BASE_IMAGE (localhost/node:20-bookworm-slim),
# CONTAINER_TEST_PORT (7987, and the next one, on 127.0.0.1), BUILD_TIMEOUT (1200 s),
# REDIS_URL_TEST, DATABASE_URL_TEST.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

IMAGE="${IMAGE:-localhost/fingerprint-auth:test}"
export BASE_IMAGE="${BASE_IMAGE:-localhost/node:20-bookworm-slim}"
PORT="${CONTAINER_TEST_PORT:-7987}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-1200}"
SHUTDOWN_TIMEOUT=10
UID_GID=10001
TAG="fpa-ctest-$$"
SECRET="$TAG-jwt"
VOLUME="$TAG-data"
work="$(mktemp -d /tmp/fpa-container-test.XXXXXX)"
checks=0
current=""
G=() # podman's global options (runtime, storage)
R=() # options for `podman run` and `podman build` (resource limits)
B=() # options for `podman build` only (isolation)

say() { echo "container-test: $*"; }
ok() {
  checks=$((checks + 1))
  echo "ok $checks - $*"
}
pod() { podman "${G[@]}" "$@"; }

cleanup() {
  for name in "$TAG-1" "$TAG-2" "$TAG-redis" "$TAG-sql"; do pod rm -f -v -t 0 "$name" >/dev/null 2>&1 || true; done
  if [ -n "${database:-}" ]; then
    psql "$DATABASE_URL_TEST" -qc "drop database if exists $database with (force)" >/dev/null 2>&1 || true
  fi
  if [ -n "${database:-}" ] && command -v redis-cli >/dev/null; then
    redis-cli -u "$REDIS_URL_TEST" --scan --pattern "$TAG:*" 2>/dev/null | xargs -r redis-cli -u "$REDIS_URL_TEST" del >/dev/null 2>&1 || true
  fi
  pod volume rm -f "$VOLUME" >/dev/null 2>&1 || true
  pod secret rm "$SECRET" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "not ok - $*"
  if [ -n "$current" ]; then
    echo "--- log of $current (last 40 lines)"
    pod logs "$current" 2>&1 | tail -n 40
    echo "---"
  fi
  say "FAILED: $*"
  exit 1
}

[ "$(id -u)" -eq 0 ] || fail "run as root (podman, debootstrap)"
command -v podman >/dev/null || fail "podman is not installed (apt-get install podman)"
command -v node >/dev/null || fail "node is needed on this machine (the HTTP client, the base image's Node)"

# --- the base image and the podman settings this machine needs ------------------------------------
base() { PODMAN="podman ${G[*]}" bash "$ROOT/scripts/container-base.sh" >"$work/base.log" 2>&1; }
started=$SECONDS
if ! base; then
  # Overlay unusable (a nested overlay, an old kernel): vfs, in a storage root of its own.
  G=(--storage-driver vfs --root /var/lib/containers/storage-vfs)
  base || { cat "$work/base.log"; fail "the base image $BASE_IMAGE could not be built"; }
fi
sed 's/^/  /' "$work/base.log"
ok "base image $BASE_IMAGE ($((SECONDS - started)) s)"

probe_run() { pod run --rm --network none "${R[@]}" "$BASE_IMAGE" node -e 'process.exit(0)' >>"$work/probe.log" 2>&1; }
hard_nofile="$(ulimit -Hn)"
hard_nproc="$(ulimit -Hu)"
storage=("${G[@]}")
found=""
if probe_run; then found="podman's defaults"; fi
if [ -z "$found" ]; then
  for runtime in crun runc; do
    command -v "$runtime" >/dev/null || continue
    for nproc in "$hard_nproc" 32768 4096; do
      [ "$nproc" = unlimited ] && continue
      G=("${storage[@]}" --runtime "$runtime")
      R=(--ulimit "nofile=$hard_nofile:$hard_nofile" --ulimit "nproc=$nproc:$nproc")
      if probe_run; then
        found="$runtime, nofile $hard_nofile, nproc $nproc"
        break 2
      fi
    done
  done
fi
[ -n "$found" ] || { tail -n 20 "$work/probe.log"; fail "podman cannot run a container here (tried crun and runc, with and without resource limits)"; }
ok "podman runs containers here (${G[*]:-default storage} ${R[*]}; $found)"

mkdir -p "$work/probe-build"
printf 'FROM %s\nRUN node -e "process.exit(0)"\n' "$BASE_IMAGE" >"$work/probe-build/Containerfile"
probe_build() {
  pod build -q "${R[@]}" "$@" --no-cache -t "localhost/$TAG-probe" "$work/probe-build" >>"$work/probe.log" 2>&1
}
if probe_build --isolation oci; then
  B=(--isolation oci)
elif probe_build --isolation chroot; then
  B=(--isolation chroot)
else
  tail -n 20 "$work/probe.log"
  fail "podman cannot build here (OCI and chroot isolation)"
fi
pod rmi -f "localhost/$TAG-probe" >/dev/null 2>&1 || true

# --- the build --------------------------------------------------------------------------------------
previous="$(pod image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
started=$SECONDS
# docker format: the OCI image format has no HEALTHCHECK. The layer cache makes a rebuild with an
# unchanged package-lock.json skip both npm ci steps.
if ! timeout "$BUILD_TIMEOUT" podman "${G[@]}" build --format docker "${R[@]}" "${B[@]}" \
  --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$IMAGE" "$ROOT" >"$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log"
  fail "podman build (see above)"
fi
ok "podman build ${B[*]} -t $IMAGE ($((SECONDS - started)) s)"
built="$(pod image inspect --format '{{.Id}}' "$IMAGE")"
if [ -n "$previous" ] && [ "$previous" != "$built" ]; then pod rmi "$previous" >/dev/null 2>&1 || true; fi

# --- what the image says about itself ---------------------------------------------------------------
pod image inspect "$IMAGE" >"$work/image.json" || fail "podman image inspect"
node - "$work/image.json" <<'JS' || fail "the image's settings (above)"
const [image] = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'));
const config = image.Config;
const env = Object.fromEntries((config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
const problems = [];
const expect = (what, good) => good || problems.push(what);
expect(`USER 10001:10001 (is ${config.User})`, config.User === '10001:10001');
expect(`VOLUME /data (is ${JSON.stringify(config.Volumes)})`, config.Volumes && '/data' in config.Volumes);
expect(`DATA_DIR=/data (is ${env.DATA_DIR})`, env.DATA_DIR === '/data');
expect(`NODE_ENV=production (is ${env.NODE_ENV})`, env.NODE_ENV === 'production');
expect(`EXPOSE 3000 (is ${JSON.stringify(config.ExposedPorts)})`, config.ExposedPorts && '3000/tcp' in config.ExposedPorts);
// podman shows the docker format's health check beside Config, docker inside it.
const test = (image.Healthcheck ?? config.Healthcheck)?.Test ?? [];
expect(`HEALTHCHECK on /health/live with node (is ${JSON.stringify(test)})`, test[0] === 'CMD' && test[1] === 'node' && test.join(' ').includes('/health/live'));
expect(`CMD node dist/main.js, no shell (is ${JSON.stringify(config.Cmd)} after ${JSON.stringify(config.Entrypoint)})`, JSON.stringify(config.Cmd) === '["node","dist/main.js"]' && !config.Entrypoint?.length);
expect(`STOPSIGNAL SIGTERM (is ${config.StopSignal})`, (config.StopSignal ?? 'SIGTERM') === 'SIGTERM');
if (problems.length) {
  console.error(problems.map((p) => `  expected ${p}`).join('\n'));
  process.exit(1);
}
JS
ok "image settings: USER 10001:10001, VOLUME /data = DATA_DIR, EXPOSE 3000, HEALTHCHECK /health/live, NODE_ENV=production, CMD node"

node scripts/service-manifest.js --list >"$work/service-packages" || fail "scripts/service-manifest.js --list"
pod run --rm --network none "${R[@]}" -v "$work/service-packages:/tmp/service-packages:ro" "$IMAGE" node -e '
  const { existsSync, readFileSync } = require("node:fs");
  const problems = [];
  for (const line of readFileSync("/tmp/service-packages", "utf8").trim().split("\n")) {
    const at = line.lastIndexOf("@");
    const [name, version] = [line.slice(0, at), line.slice(at + 1)];
    const found = existsSync(`node_modules/${name}/package.json`) && require(`${process.cwd()}/node_modules/${name}/package.json`).version;
    if (found !== version) problems.push(`${name}: ${found || "missing"}, package-lock.json pins ${version}`);
  }
  for (const dev of ["jest", "ts-jest", "eslint", "prettier", "@nestjs/testing", "autocannon", "playwright-core", "ts-node"]) {
    if (existsSync(`node_modules/${dev}`)) problems.push(`dev package ${dev} is installed`);
  }
  require("better-sqlite3")(":memory:").prepare("select 1").get();
  if (problems.length) { console.error(problems.join("\n")); process.exit(1); }
' >"$work/packages.log" 2>&1 || { cat "$work/packages.log"; fail "the runtime dependencies (above)"; }
ok "runtime node_modules: $(tr '\n' ' ' <"$work/service-packages")as pinned, no dev tools, better-sqlite3 loads"

if pod run --rm --network none "${R[@]}" "$IMAGE" sh -c 'command -v g++ || command -v gcc || command -v make || command -v python3 || command -v curl' >"$work/tools.log" 2>&1; then
  fail "the runtime image has build tools or curl: $(cat "$work/tools.log")"
fi
ok "no compiler, make, python3 or curl in the runtime image"

# --- a running container ----------------------------------------------------------------------------
node -e 'process.stdout.write(require("node:crypto").randomBytes(48).toString("base64"))' >"$work/jwt-secret"
pod secret create "$SECRET" "$work/jwt-secret" >/dev/null || fail "podman secret create"
pod volume create "$VOLUME" >/dev/null || fail "podman volume create"

start() {
  current="$1"
  # The key as a secret file readable by the service's user only, as compose and Kubernetes mount it.
  pod run -d --name "$1" "${R[@]}" -p "127.0.0.1:$PORT:3000" \
    --secret "$SECRET,target=jwt-secret,uid=$UID_GID,gid=$UID_GID,mode=0400" \
    -e JWT_SECRET_FILE=/run/secrets/jwt-secret -e SHUTDOWN_TIMEOUT="$SHUTDOWN_TIMEOUT" \
    -v "$VOLUME:/data" "$IMAGE" >"$work/run.log" 2>&1 || { cat "$work/run.log"; fail "podman run $1"; }
  for _ in $(seq 1 60); do
    if node -e "fetch('http://127.0.0.1:$PORT/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"; then
      return 0
    fi
    [ "$(pod inspect --format '{{.State.Running}}' "$1")" = true ] || fail "$1 exited before /health/live answered"
    sleep 1
  done
  fail "/health/live did not answer on 127.0.0.1:$PORT after 60 attempts"
}

# The HTTP client: register + log in (first), then the same user and session after a restart (again).
cat >"$work/client.js" <<'JS'
const { readFileSync, writeFileSync } = require('node:fs');
const [mode, base, stateFile] = process.argv.slice(2);
const account = { email: process.env.CLIENT_EMAIL || 'container-test@example.com', password: 'correct horse battery staple' };

async function call(method, path, { body, token, cookies } = {}) {
  const headers = {};
  if (body) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  if (cookies) headers.cookie = cookies;
  const res = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, setCookies: res.headers.getSetCookie() };
}
function expect(what, res, status) {
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}, expected ${status}`);
  console.log(`  ${what}: ${res.status}`);
  return res;
}
async function login() {
  const res = expect('POST /auth/login', await call('POST', '/auth/login', { body: account }), 200);
  // Production cookies (__Host-Fgp, Secure): sent back by hand, as a browser would over HTTPS.
  const cookies = res.setCookies.map((c) => c.split(';')[0]).join('; ');
  if (!/__Host-Fgp=/.test(cookies)) throw new Error(`no __Host-Fgp cookie in ${JSON.stringify(res.setCookies)}`);
  return { token: res.body.accessToken, cookies, sessionId: res.body.sessionId };
}

async function main() {
  if (mode === 'first') {
    expect('POST /auth/register', await call('POST', '/auth/register', { body: account }), 201);
    const session = await login();
    const me = expect('GET /auth/me with token and cookie', await call('GET', '/auth/me', session), 200);
    if (me.body.email !== account.email || me.body.sessionId !== session.sessionId) throw new Error(`/auth/me: ${JSON.stringify(me.body)}`);
    expect('GET /auth/me with the token alone', await call('GET', '/auth/me', { token: session.token }), 401);
    writeFileSync(stateFile, JSON.stringify(session));
  } else {
    const session = JSON.parse(readFileSync(stateFile, 'utf8'));
    const me = expect('GET /auth/me with the token and cookie from before the restart', await call('GET', '/auth/me', session), 200);
    if (me.body.sessionId !== session.sessionId) throw new Error(`/auth/me: ${JSON.stringify(me.body)}`);
    const again = await login();
    expect('GET /auth/me on the new login', await call('GET', '/auth/me', again), 200);
  }
}
main().catch((error) => {
  console.error(`  ${error.message}`);
  process.exit(1);
});
JS

stop_cleanly() {
  local name="$1"
  # podman stop sends STOPSIGNAL (SIGTERM) and SIGKILL only after --time: an exit code of 0 means the
  # service's own graceful shutdown ended it (past SHUTDOWN_TIMEOUT it exits 1; a SIGKILL gives 137).
  pod stop --time $((SHUTDOWN_TIMEOUT + 10)) "$name" >/dev/null 2>&1 || fail "podman stop $name"
  local code
  code="$(pod inspect --format '{{.State.ExitCode}}' "$name")"
  pod logs "$name" >"$work/$name.log" 2>&1
  [ "$code" = 0 ] || fail "$name exited with code $code after SIGTERM, expected 0"
  grep -q '"event":"shutdown_started","signal":"SIGTERM"' "$work/$name.log" || fail "no shutdown_started for SIGTERM in the log"
  grep -q '"event":"shutdown_complete"' "$work/$name.log" || fail "no shutdown_complete in the log"
  if grep -q '"event":"shutdown_forced"' "$work/$name.log"; then fail "shutdown_forced in the log"; fi
}

start "$TAG-1"
ok "container started in production with JWT_SECRET_FILE from a podman secret; /health/live answers on 127.0.0.1:$PORT"

node "$work/client.js" first "http://127.0.0.1:$PORT" "$work/session.json" || fail "register and log in over HTTP (above)"
ok "register, login, /auth/me with token + fingerprint cookie (200), token alone (401)"

pid="$(pod inspect --format '{{.State.Pid}}' "$TAG-1")"
uids="$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")"
gids="$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")"
[ "$uids" = "$UID_GID $UID_GID $UID_GID $UID_GID" ] && [ "$gids" = "$UID_GID $UID_GID $UID_GID $UID_GID" ] \
  || fail "the service runs with uids ($uids) and gids ($gids), expected $UID_GID"
pid1="$(pod exec "$TAG-1" cat /proc/1/cmdline | tr '\0' ' ')"
[ "$pid1" = "node dist/main.js " ] || fail "PID 1 in the container is '$pid1', expected node dist/main.js"
ok "the service is PID 1 (node dist/main.js), uid and gid $UID_GID (host pid $pid)"

pod exec "$TAG-1" sh -c 'stat -c "%a %u:%g %n" /data /data/fingerprint-auth.db' >"$work/modes" || fail "stat /data"
[ "$(cat "$work/modes")" = "700 $UID_GID:$UID_GID /data
600 $UID_GID:$UID_GID /data/fingerprint-auth.db" ] || fail "data modes: $(cat "$work/modes")"
pod logs "$TAG-1" >"$work/logs" 2>&1
if grep -q '"event":"data_permissions"' "$work/logs"; then fail "data_permissions warning: $(grep data_permissions "$work/logs")"; fi
ok "the new volume is the service's: /data 0700, the SQLite file 0600, no permission warning"

hc="$(pod healthcheck run "$TAG-1" 2>&1)" || fail "podman healthcheck run: $hc"
status="$(pod inspect --format '{{.State.Health.Status}}' "$TAG-1")"
[ "$status" = healthy ] || fail "health status is '$status' after podman healthcheck run"
ok "podman healthcheck run: healthy"

stop_cleanly "$TAG-1"
grep -q '"event":"snapshot_written","reason":"shutdown","sessions":1' "$work/$TAG-1.log" || fail "no shutdown snapshot of the session in the log"
ok "SIGTERM: graceful shutdown, session snapshot written, exit code 0 (SHUTDOWN_TIMEOUT $SHUTDOWN_TIMEOUT s)"

start "$TAG-2"
pod logs "$TAG-2" >"$work/logs" 2>&1
grep -q '"event":"snapshot_restored"' "$work/logs" || fail "no snapshot_restored in the log of the second container"
node "$work/client.js" again "http://127.0.0.1:$PORT" "$work/session.json" || fail "the data after a restart (above)"
ok "a new container on the same volume: the old token and cookie still work (snapshot restored), the user logs in again (SQLite)"

stop_cleanly "$TAG-2"
ok "the second container stops cleanly too"

# --- the stores compose.yaml wires: Redis and PostgreSQL -------------------------------------------
# On this machine's own Redis and PostgreSQL (REDIS_URL_TEST, DATABASE_URL_TEST, as the test suites
# use them), reached over the host's network: users in a database of this run's own, sessions in
# Redis (under a key prefix of this run's own), then in that database (SESSION_STORE=sql).
stores_port=$((PORT + 1))
start_on_host() {
  current="$1"
  shift
  pod run -d --name "$current" "${R[@]}" --network host -e HOST=127.0.0.1 -e PORT="$stores_port" \
    --secret "$SECRET,target=jwt-secret,uid=$UID_GID,gid=$UID_GID,mode=0400" \
    -e JWT_SECRET_FILE=/run/secrets/jwt-secret -e SHUTDOWN_TIMEOUT="$SHUTDOWN_TIMEOUT" \
    -e DATABASE_URL="$database_url" "$@" "$IMAGE" >"$work/run.log" 2>&1 || { cat "$work/run.log"; fail "podman run $current"; }
  for _ in $(seq 1 60); do
    if node -e "fetch('http://127.0.0.1:$stores_port/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"; then
      return 0
    fi
    [ "$(pod inspect --format '{{.State.Running}}' "$current")" = true ] || fail "$current exited before /health/ready answered"
    sleep 1
  done
  fail "/health/ready did not answer on 127.0.0.1:$stores_port after 60 attempts"
}
database=""
if [ -n "${REDIS_URL_TEST:-}" ] && [ -n "${DATABASE_URL_TEST:-}" ] && command -v psql >/dev/null \
  && psql "$DATABASE_URL_TEST" -Atqc 'select 1' >/dev/null 2>&1; then
  database="fpa_container_test_$$"
  psql "$DATABASE_URL_TEST" -qc "create database $database" >/dev/null || fail "create database $database"
  database_url="$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.href)' "$DATABASE_URL_TEST" "$database")"

  start_on_host "$TAG-redis" -e SESSION_STORE=redis -e REDIS_URL="$REDIS_URL_TEST" -e REDIS_KEY_PREFIX="$TAG:"
  CLIENT_EMAIL=redis-mode@example.com node "$work/client.js" first "http://127.0.0.1:$stores_port" "$work/redis.json" \
    || fail "register and log in with SESSION_STORE=redis (above)"
  stop_cleanly "$TAG-redis"
  ok "SESSION_STORE=redis, users in PostgreSQL: /health/ready, register, login, /auth/me; clean stop"

  start_on_host "$TAG-sql" -e SESSION_STORE=sql
  CLIENT_EMAIL=sql-mode@example.com node "$work/client.js" first "http://127.0.0.1:$stores_port" "$work/sql.json" \
    || fail "register and log in with SESSION_STORE=sql (above)"
  stop_cleanly "$TAG-sql"
  ok "SESSION_STORE=sql on PostgreSQL: /health/ready, register, login, /auth/me; clean stop"
else
  echo "skip - SESSION_STORE=redis and sql: set REDIS_URL_TEST and DATABASE_URL_TEST (with psql here) to check them"
fi

current=""
say "passed ($checks checks)"
