#!/usr/bin/env bash
# Starts the embedded platform: granian (WSGI) web server, a Huey consumer and a few simulated devices.
set -euo pipefail
HOST="${1:-127.0.0.1}"; PORT="${2:-8000}"; SIM_DEVICES="${3:-6}"
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.local}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://$HOST:$PORT}"
mkdir -p var/log
pids=()
sim_pids=()
cleanup() { for p in "${pids[@]}" "${sim_pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$VENV/bin/python" manage.py run_huey --workers 2 --flush-locks >var/log/huey.log 2>&1 &
pids+=($!)
"$VENV/bin/granian" --interface wsgi --host "$HOST" --port "$PORT" --workers 2 \
  --static-path-route /static --static-path-mount var/static config.wsgi:application >var/log/web.log 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  if "$VENV/bin/python" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "http://$HOST:$PORT/healthz" 2>/dev/null; then break; fi
  sleep 0.2
done

# Simulated devices for the demo installer's intercoms (docs/simulator.md). They provision with the
# installer's AutoP credentials, check in on the platform's poll interval and carry out actions.
# The simulator is not one of the processes whose exit stops the platform.
if [ "$SIM_DEVICES" -gt 0 ]; then
  "$VENV/bin/entryway" simulate --server "http://$HOST:$PORT" --from-db --installer "${SIM_INSTALLER:-installer}" \
    --count "$SIM_DEVICES" --reboot-seconds "${SIM_REBOOT_SECONDS:-5}" --stats 60 -v >var/log/sim.log 2>&1 &
  sim_pids+=($!)
fi

cat <<MSG

  entryway is running at http://$HOST:$PORT/

  Demo logins (user / password):
    installer     installer / entryway-demo
    distributor   distributor / entryway-demo
    platform admin  admin / entryway-demo

  Logs: var/log/ (web.log, huey.log, sim.log). E-mails: var/mail/. Stop with Ctrl-C.

MSG
wait -n "${pids[@]}"
