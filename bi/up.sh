#!/usr/bin/env bash
# make bi: Apache Superset on 127.0.0.1 against `plantlake serve`, with the plant manager's dashboard
# provisioned through Superset's API and every chart checked for data. Runs until Ctrl-C, then stops
# both servers by their PIDs. `bash bi/up.sh --check-only` stops after the check (exit 1 if a chart
# has no data).
#
# Superset lives in its own virtual environment (.venv-bi, pinned by bi/requirements.txt and
# bi/constraints.txt); its state (SQLite metadata, generated SECRET_KEY and admin password, logs)
# lives in $PLANTLAKE_HOME/bi. An empty lake gets `plantlake demo` first.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
VENV_BI=${VENV_BI:-$ROOT/.venv-bi}
export PLANTLAKE_HOME=${PLANTLAKE_HOME:-$ROOT/.plantlake}
BI_HOME=$PLANTLAKE_HOME/bi
SUPERSET_PORT=${SUPERSET_PORT:-8088}
SERVE_PORT=${SERVE_PORT:-10000}
CHECK_ONLY=0
[[ "${1:-}" == "--check-only" ]] && CHECK_ONLY=1
mkdir -p "$BI_HOME"

say() { printf '\n== %s\n' "$*"; }

# -- Superset's environment ------------------------------------------------------------------
stamp="$VENV_BI/.installed-$(cat bi/requirements.txt bi/constraints.txt | cksum | cut -d' ' -f1)"
if [[ ! -f "$stamp" ]]; then
    say "installing Superset into $VENV_BI (a few minutes, once)"
    test -x "$VENV_BI/bin/python" || "$PYTHON" -m venv "$VENV_BI"
    "$VENV_BI/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
    "$VENV_BI/bin/python" -m pip install --quiet -r bi/requirements.txt -c bi/constraints.txt
    rm -f "$VENV_BI"/.installed-*
    touch "$stamp"
fi
umask 077
test -s "$BI_HOME/secret_key" || "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))' > "$BI_HOME/secret_key"
test -s "$BI_HOME/admin_password" || "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(12))' > "$BI_HOME/admin_password"
umask 022
PASSWORD=$(cat "$BI_HOME/admin_password")
export SUPERSET_CONFIG_PATH=$ROOT/bi/superset_config.py SUPERSET_LOAD_EXAMPLES=no DO_NOT_TRACK=1 SCARF_ANALYTICS=false
export FLASK_APP=superset

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- the lake and plantlake serve ------------------------------------------------------------
if ! .venv/bin/python -c "import sys; from lakehouse.delta import Lake; sys.exit(0 if Lake().exists('gold.oee_plant_daily') else 1)"; then
    say "the lake at $PLANTLAKE_HOME has no gold tables yet: running plantlake demo"
    .venv/bin/plantlake demo
fi
# Every table a chart reads (bi/superset_provision.py --tables) must be written, or its chart has no rows. The alert
# tables are written only once a failure model has passed the promotion gate: say so before starting any server.
needed=$("$VENV_BI/bin/python" bi/superset_provision.py --tables)
.venv/bin/python - $needed <<'EOF' || exit 1
import sys
from lakehouse.delta import Lake
lake = Lake()
needed = sys.argv[1:]
missing = [name for name in needed if not lake.exists(name)]
if missing:
    print(f"\nThe dashboard's charts would have no rows: {', '.join(missing)} not written yet.", file=sys.stderr)
    promotions = lake.read("ops.model_promotions", missing_ok=True).to_pylist()
    latest = {row["model_name"]: row for row in sorted(promotions, key=lambda r: r["decided_at"])}
    for row in latest.values():
        print(f"  the gate's last decision on {row['model_name']}: "
              f"{'promoted' if row['promoted'] else 'not promoted'}: {row['reason']}", file=sys.stderr)
    print("Alerts and savings need a champion failure model (docs/models.md, The promotion gate): process more "
          "nights and retrain (a demo lake: plantlake demo --days N with more nights, in a new PLANTLAKE_HOME).",
          file=sys.stderr)
    sys.exit(1)
EOF
if (exec 3<>"/dev/tcp/127.0.0.1/$SERVE_PORT") 2>/dev/null; then
    say "something already listens on 127.0.0.1:$SERVE_PORT: using it as plantlake serve"
else
    say "starting plantlake serve on 127.0.0.1:$SERVE_PORT (log: $BI_HOME/serve.log)"
    .venv/bin/plantlake serve --port "$SERVE_PORT" > "$BI_HOME/serve.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 600); do
        grep -q "plantlake serve:" "$BI_HOME/serve.log" && break
        kill -0 "${pids[-1]}" 2>/dev/null || { tail -30 "$BI_HOME/serve.log"; exit 1; }
        sleep 0.5
    done
    grep "plantlake serve:" "$BI_HOME/serve.log"
fi

# -- Superset ---------------------------------------------------------------------------------
say "preparing Superset's metadata ($BI_HOME/superset.db)"
"$VENV_BI/bin/superset" db upgrade > "$BI_HOME/superset-setup.log" 2>&1
"$VENV_BI/bin/superset" fab create-admin --username admin --firstname Plant --lastname Manager \
    --email admin@localhost --password "$PASSWORD" >> "$BI_HOME/superset-setup.log" 2>&1
"$VENV_BI/bin/superset" fab reset-password --username admin --password "$PASSWORD" >> "$BI_HOME/superset-setup.log" 2>&1
"$VENV_BI/bin/superset" init >> "$BI_HOME/superset-setup.log" 2>&1
say "starting Superset on 127.0.0.1:$SUPERSET_PORT (log: $BI_HOME/superset.log)"
"$VENV_BI/bin/superset" run -h 127.0.0.1 -p "$SUPERSET_PORT" --with-threads > "$BI_HOME/superset.log" 2>&1 &
pids+=($!)
URL=http://127.0.0.1:$SUPERSET_PORT
"$VENV_BI/bin/python" -c "import sys; sys.path.insert(0, 'bi'); from superset_api import wait_healthy; wait_healthy('$URL')"

say "provisioning the database, datasets and the dashboard"
"$VENV_BI/bin/python" bi/superset_provision.py --url "$URL" --password "$PASSWORD" \
    --hive-uri "hive://bi@127.0.0.1:$SERVE_PORT/gold"
say "checking that every chart returns data"
"$VENV_BI/bin/python" bi/superset_check.py --url "$URL" --password "$PASSWORD"

if [[ $CHECK_ONLY == 1 ]]; then
    exit 0
fi
say "Superset: $URL/superset/dashboard/plantlake-plant-manager/  user admin, password in $BI_HOME/admin_password"
echo "Press Ctrl-C to stop Superset and plantlake serve."
wait
