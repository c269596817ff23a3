# Shared shell helpers for scripts/*.sh (sourced, not run).

EMULATOR=target/release/headless-imports-emulator

# start_emulator DIR [flags...]: starts the emulator on ephemeral loopback ports, waits for its
# ready line and sets EMU_API, EMU_STORAGE, EMU_CONTROL. It reads stdin from a fifo held open by
# this shell: when the shell exits for any reason, the emulator sees EOF and exits too.
start_emulator() {
  local dir=$1; shift
  mkfifo "$dir/emu.in"
  "$EMULATOR" --exit-on-stdin-eof "$@" < "$dir/emu.in" > "$dir/emu.out" 2> "$dir/emu.err" &
  EMU_PID=$!
  exec 9> "$dir/emu.in"
  local i
  for i in $(seq 1 200); do
    [ -s "$dir/emu.out" ] && break
    kill -0 "$EMU_PID" 2>/dev/null || { cat "$dir/emu.err" >&2; return 1; }
    sleep 0.05
  done
  local ready; ready=$(head -n 1 "$dir/emu.out")
  EMU_API=$(node -e 'console.log(JSON.parse(process.argv[1]).api)' "$ready")
  EMU_STORAGE=$(node -e 'console.log(JSON.parse(process.argv[1]).storage)' "$ready")
  EMU_CONTROL=$(node -e 'console.log(JSON.parse(process.argv[1]).control)' "$ready")
  export EMU_API EMU_STORAGE EMU_CONTROL
}

stop_emulator() {
  exec 9>&- 2>/dev/null || true
  [ -n "${EMU_PID:-}" ] && kill "$EMU_PID" 2>/dev/null || true
  wait "${EMU_PID:-}" 2>/dev/null || true
}
