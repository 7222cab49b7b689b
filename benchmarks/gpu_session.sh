#!/usr/bin/env bash
# One GPU session in one command: every GPU benchmark under a hard time budget, results as JSON.
#
# Runs, in order, each part under `timeout` with its own budget (seconds) so one slow part cannot
# eat the others' time:
#   gpu_check            NVML fingerprint, idle power, J/token (all-in and marginal) over >= 5 s
#                        windows, tokens/s cold and warm, step latency by canvas (benchmarks/gpu_check.py)
#   engine_ar            engine eager / fast path vs transformers' generate() at equal work, AR
#   engine_diffusion     the same for block diffusion, with the trace's cost
#   realistic_shapes     DiffusionGemma and Gemma 4 at their real geometry, all 30 layers, random weights
#   tests                the telemetry and fast-path tests, on the GPU
# Everything lands in $OUT (default ./gpu-out): one JSON per part, plus session.log and env.txt.
# Wheels in .whl/ (packages the GPU machine lacks) are installed first, to /tmp/site (not in a try-out).
#
#   benchmarks/gpu_session.sh                          # all parts
#   benchmarks/gpu_session.sh engine_ar tests          # only these parts
#   GPU_SESSION_TINY=1 benchmarks/gpu_session.sh       # try it out on a CPU, in a minute or two
set -u
ALL_PARTS="gpu_check engine_ar engine_diffusion realistic_shapes tests"
PARTS=${*:-$ALL_PARTS}
for asked in $PARTS; do
    case " $ALL_PARTS " in *" $asked "*) ;; *) echo "unknown part '$asked': choose from $ALL_PARTS" >&2; exit 2 ;; esac
done
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH="$PWD"
if [ -z "${GPU_SESSION_TINY:-}" ] && compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="/tmp/site:$PWD"
fi
PY=${PY:-python3}

if [ -n "${GPU_SESSION_TINY:-}" ]; then  # CPU try-out: small shapes, the script's paths all taken
    DEVICE=cpu PAIRS=4 GC="--device cpu --window-s 1 --hidden 256 --layers 1 --canvases 16,32" RS="--small"
else
    DEVICE=cuda PAIRS=8 GC="" RS="--full-depth --hardware h200"
fi

{
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit,clocks.sm,clocks.mem,temperature.gpu --format=csv 2>&1
    $PY -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__)"
    nproc; uptime
} >"$OUT/env.txt" 2>&1

part() {  # part NAME BUDGET_S COMMAND...: run it if asked for, log it, say how it ended
    local name=$1 budget=$2
    shift 2
    case " $PARTS " in *" $name "*) ;; *) return ;; esac
    local started=$SECONDS
    echo "=== $name (budget ${budget}s)"
    timeout -k 10 "$budget" "$@" 2>&1
    echo "=== $name: exit $? after $((SECONDS - started)) s"
}

{
    part gpu_check 90 $PY benchmarks/gpu_check.py $GC --json "$OUT/gpu_check.json"
    part engine_ar 120 $PY benchmarks/engine_vs_transformers.py --kinds autoregressive --device $DEVICE \
        --pairs $PAIRS --json "$OUT/engine_ar.json"
    part engine_diffusion 130 $PY benchmarks/engine_vs_transformers.py --kinds diffusion --device $DEVICE \
        --pairs $PAIRS --json "$OUT/engine_diffusion.json"
    part realistic_shapes 130 $PY benchmarks/realistic_shapes.py $RS --json "$OUT/realistic_shapes.json"
    part tests 70 $PY -m pytest -q -x -rf -p no:cacheprovider -o addopts="" tests/test_telemetry_energy.py tests/test_engine_fast_path.py
} 2>&1 | tee "$OUT/session.log"
