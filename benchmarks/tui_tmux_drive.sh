#!/usr/bin/env bash
# Drive the real tnao-tui in a tmux pane (a real terminal) through one tiny run on the
# embedded default, and check from the captured screen that the footer's keys fit, that a
# fast burst of keys in the run form keeps every key, that the training chart and the CSO
# leaderboard appear, that the results screen shows the best architecture, and that
# quitting ends the process.
#
#   benchmarks/tui_tmux_drive.sh [SIZE]     SIZE: 80x24 (default) or e.g. 100x30
#
# Needs tmux. Uses a fresh temporary TNAO_HOME; the captures are kept in $OUT (printed).
set -euo pipefail

SIZE=${1:-80x24}
W=${SIZE%x*}
H=${SIZE#*x}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TUI=${TNAO_TUI:-$(dirname "$(command -v python)")/tnao-tui}
[ -x "$TUI" ] || TUI=/work/venv/bin/tnao-tui
HOME_DIR=$(mktemp -d)
OUT=${OUT:-$(mktemp -d)}
S=tnao-drive-$$
FAIL=0

cleanup() { tmux kill-session -t "$S" 2>/dev/null || true; rm -rf "$HOME_DIR"; }
trap cleanup EXIT

cap() { tmux capture-pane -p -t "$S"; }
# wait_for TEXT SECONDS NAME: poll the pane until TEXT shows; save the capture as NAME
wait_for() {
  local text=$1 secs=$2 name=$3 t=0
  while ! cap | grep -qF -- "$text"; do
    sleep 0.25; t=$((t + 1))
    if [ $t -gt $((secs * 4)) ]; then
      echo "FAIL: '$text' did not appear within ${secs}s ($name)"; cap > "$OUT/$name.txt"
      FAIL=1; return 1
    fi
  done
  cap > "$OUT/$name.txt"
  echo "ok:   $name ('$text' after $((t / 4))s)"
}
# wait_re REGEX SECONDS NAME: like wait_for, with an extended regex
wait_re() {
  local re=$1 secs=$2 name=$3 t=0
  while ! cap | grep -qE -- "$re"; do
    sleep 0.25; t=$((t + 1))
    if [ $t -gt $((secs * 4)) ]; then
      echo "FAIL: /$re/ did not appear within ${secs}s ($name)"; cap > "$OUT/$name.txt"
      FAIL=1; return 1
    fi
  done
  cap > "$OUT/$name.txt"
  echo "ok:   $name (/$re/ after $((t / 4))s)"
}
check() {  # check NAME REGEX WHAT
  if grep -qE -- "$2" "$OUT/$1.txt"; then echo "ok:   $3"; else echo "FAIL: $3"; FAIL=1; fi
}

cd "$ROOT"
tmux new-session -d -s "$S" -x "$W" -y "$H" \
  "env TNAO_HOME=$HOME_DIR TNAO_TUI_PRESET=tiny $TUI; echo TUI-EXITED \$?; sleep 30"

wait_for "Run history" 60 01-home
check 01-home "\^q Quit .*\^p palette" "Home's footer shows Quit and the palette key"
tmux send-keys -t "$S" n
wait_for "Dataset" 20 02-benchmark
check 02-benchmark "analog +ready" "the embedded default is ready"
tmux send-keys -t "$S" C-n
wait_for "Run settings" 20 03-sampling
# One burst, as a fast typist or a macro sends it: four Tabs to Particles (8 in the tiny
# preset), make it 12, Tab, make Generations (3) 4. Keys used to overtake one another and
# leave the second field empty.
tmux send-keys -t "$S" Tab Tab Tab Tab End BSpace BSpace 1 2 Tab End BSpace BSpace 4
wait_re "Generations +4" 20 03-sampling-typed
check 03-sampling-typed "Particles +12" "the burst of keys set Particles to 12"
tmux send-keys -t "$S" C-r
wait_for "loss per epoch" 120 04-training
check 04-training "device cpu" "the device in use is shown"
wait_for "Best architecture" 180 06-results-first
# The first frame of a screen can be mid-layout: wait for its footer before reading it.
wait_re "e Export .*\^q Quit" 20 06-results
check 06-results "true rank [0-9]+" "the results show the best architecture's true rank"
check 06-results "# +arch +valid +test +true rank +pct" "the results table has its columns"
tmux send-keys -t "$S" Escape
wait_for "convergence" 20 07-search
check 07-search "rank +arch +predicted +valid +test" "the leaderboard has its columns"
check 07-search "^ 1 +[a-z0-9-]+ \|" "the leaderboard has a first row"
# The search label: "[round k/n  ]gen g/G" (a tiny run has one round); 4 generations typed.
check 07-search "^ (round [0-9]+/[0-9]+  )?gen 4/4 " "the search ran the 4 generations typed"
# One step further back: the training charts of the finished run (a tiny run trains in
# about a second, so the guide may have moved on before a live chart was drawn).
tmux send-keys -t "$S" Escape
wait_for "validation Kendall tau" 20 05-training-chart
check 05-training-chart "^ (round [0-9]+/[0-9]+  )?epoch 3/3" "the epoch label counts the epochs"
check 05-training-chart "[0-9]\.[0-9]+┤" "the loss chart has a numbered axis"
check 05-training-chart "epoch [0-9]+ +rec [0-9.]+ +rank [0-9.]+ +total [0-9.]+" \
  "the epoch line shows the losses"
tmux send-keys -t "$S" C-g
wait_for "Run history" 20 08-home-history
check 08-home-history "tnao +finished" "the run is in the history, finished"
tmux send-keys -t "$S" C-q
wait_for "TUI-EXITED 0" 20 09-exit

echo "captures in $OUT"
if [ $FAIL -eq 0 ]; then echo "PASS"; else echo "FAILED"; exit 1; fi
