#!/usr/bin/env bash
# deepgen on a GPU backend against PyTorch on CUDA, side by side on one machine: for every
# workload and round, `workloads --timed` once per deepgen backend, then
# `benches/pytorch/workloads.py --device cuda`, alternately (A, B, A, B ...) so that drift
# cancels; one JSON line per run in $OUT/runs.jsonl and the table in $OUT/side_by_side.md.
#
# A GPU machine lent to a session has PyTorch and the CUDA toolkit but no Rust toolchain, so the
# benchmark binary is built where Rust is and carried (docs/performance.md, "On a GPU machine"):
#   cargo bench --no-run --features wgpu --bench workloads    # prints the executable's path
#   mkdir -p gpu-bundle && strip -o gpu-bundle/workloads <that path>
# and then, from the repository root on the GPU machine:
#   bash benches/device/side_by_side.sh --bin gpu-bundle/workloads --backends wgpu --out "$OUT"
# The same script runs on a CPU as a dry run:
#   bash benches/device/side_by_side.sh --bin <workloads> --backends flex --torch-device cpu
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=gpu-bundle/workloads
backends=wgpu
torch_device=cuda
workloads=mlp_vae,iwae_net,conv_vae,realnvp_2d,glow_mnist,ddpm_unet,ddim_50
rounds=2
seconds=2
out=runs/side_by_side
python=${PYTHON:-python3}
limit=300

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'USAGE'
Options (defaults in brackets):
  --bin PATH            deepgen's workloads benchmark binary [gpu-bundle/workloads]
  --backends LIST       deepgen backends, comma-separated: wgpu, cuda, flex, ... [wgpu]
  --torch-device DEV    PyTorch's device: cuda, cuda:N or cpu [cuda]
  --workloads LIST      comma-separated [mlp_vae,iwae_net,conv_vae,realnvp_2d,glow_mnist,ddpm_unet,ddim_50]
  --rounds N            alternating rounds per workload [2]
  --seconds S           minimum seconds of each timed run [2]
  --limit S             seconds before a run is killed and recorded as failed [300]
  --out DIR             where runs.jsonl, side_by_side.md and stderr.log go [runs/side_by_side]
  PYTHON=...            the Python with torch [python3]
USAGE
}

while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --backends) backends=$2; shift 2 ;;
    --torch-device) torch_device=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "side_by_side.sh: unknown option \`$1\` (see --help)" >&2; exit 2 ;;
  esac
done

if [ ! -x "$bin" ]; then
  echo "side_by_side.sh: no executable benchmark binary at \`$bin\`: build it with" \
       "\`cargo bench --no-run --features wgpu --bench workloads\` and pass its path with --bin" >&2
  exit 2
fi
case "$rounds" in ''|*[!0-9]*|0) echo "side_by_side.sh: --rounds must be a positive integer, got \`$rounds\`" >&2; exit 2 ;; esac

mkdir -p "$out"
runs="$out/runs.jsonl"
: > "$runs"
: > "$out/stderr.log"
threads=$(nproc)

{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($threads threads)"
  if command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"
  fi
  echo "torch: $("$python" -c 'import torch; print(torch.__version__, "cuda", torch.cuda.is_available())' 2>&1)"
} > "$out/machine.txt"
cat "$out/machine.txt"

# One run; a failure or a timeout becomes a JSON line with the error, and the loop goes on.
record() {
  local workload=$1 impl=$2
  shift 2
  local line rc=0
  line=$(timeout "$limit" "$@" 2>>"$out/stderr.log" | tail -n 1) || rc=$?
  case "$line" in
    \{*) echo "$line" >> "$runs" ;;
    *) printf '{"workload": "%s", "impl": "%s", "error": "exit status %s"}\n' \
         "$workload" "$impl" "$rc" >> "$runs" ;;
  esac
  echo "  $impl: $(tail -n 1 "$runs" | cut -c1-160)"
}

for w in ${workloads//,/ }; do
  for r in $(seq 1 "$rounds"); do
    echo "== $w, round $r of $rounds"
    for b in ${backends//,/ }; do
      record "$w" "deepgen-$b" "$bin" --timed "$w" --backend "$b" --seconds "$seconds" --repeats 1
    done
    record "$w" "pytorch" "$python" benches/pytorch/workloads.py --workload "$w" \
      --device "$torch_device" --threads "$threads" --seconds "$seconds" --repeats 1
  done
done

"$python" benches/device/summarize.py "$runs" "$out/machine.txt" > "$out/side_by_side.md"
cat "$out/side_by_side.md"
