#!/usr/bin/env bash
# The zoo's training commands (one intra-op thread each, so two lanes run side by side on a 2-core CPU).
# Each run stops at its --time-budget of wall time; rerun a line to resume it after an interruption
# (BackupAndRestore state in the run folder); TIME_BUDGET=SECONDS and THREADS=N override the budget and
# the threads of that rerun; LR_SCHEDULE=cosine anneals it (the learning rate decays from the steps
# already taken to --epochs x --steps-per-epoch; EPOCHS=N sets --epochs, default 100).
# Usage: runs/zoo/commands.sh NAME
# TFAR_CODE names a checkout to import tfar from (a frozen copy, e.g. `git worktree add`), so that a
# run keeps one version of the code while the working tree changes; default: this one.
# The architectures are the entries' own (sized for a few CPU core-minutes per epoch); the recipe is
# Adam 1e-3, Polyak averaging (EMA 0.995: a window of about 200 of the run's 1,000-2,000 steps) for validation, checkpoints and samples, checkpoints chosen
# on 2,000 images of the validation split (the last 5,000 training images), never on the test split.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="${TFAR_CODE:-$PWD}"
TFAR=".venv/bin/python -P -m tfar"  # -P: import tfar from PYTHONPATH, not from the current folder
COMMON="--data fashion_mnist --source full --conditional --batch-size 32 --steps-per-epoch 200 --epochs ${EPOCHS:-100}
        --val-limit 2000 --lr 1e-3 --lr-schedule ${LR_SCHEDULE:-constant} --ema 0.995 --threads ${THREADS:-1} --verbose 2"
case "$1" in
  gated_pixelcnn)
    # filters=64 output_filters=128 (the old entry's width) took 10 s a step here: 201 steps in 35 minutes
    $TFAR train gated_pixelcnn $COMMON --time-budget ${TIME_BUDGET:-3000} --out runs/zoo/gated_pixelcnn \
      --set filters=32 num_layers=10 output_filters=64 ;;
  pixelcnn)
    $TFAR train pixelcnn $COMMON --time-budget ${TIME_BUDGET:-1500} --out runs/zoo/pixelcnn \
      --set filters=64 num_residual_blocks=5 output_filters=128 ;;
  pixelcnn_wide)
    # the 64-filter run's curve flattened near 3.0 bits/dim (115k parameters): a wider, deeper net, own folder
    $TFAR train pixelcnn $COMMON --time-budget ${TIME_BUDGET:-3000} --out runs/zoo/pixelcnn_wide \
      --set filters=96 num_residual_blocks=7 output_filters=192 ;;
  pixelcnn_pp)
    $TFAR train pixelcnn_pp $COMMON --time-budget ${TIME_BUDGET:-2100} --out runs/zoo/pixelcnn_pp \
      --set num_filters=32 num_resnet=1 num_hierarchies=2 num_logistic_mix=5 dropout_p=0.1 ;;
  pixelcnn_pp_wn)
    # the same net with weight norm and data-dependent init, each gated block's last convolution
    # initialised to unit output std as tfp's init does (bench/README.md, "Where the two still differ")
    $TFAR train pixelcnn_pp $COMMON --time-budget ${TIME_BUDGET:-2100} --out runs/zoo/pixelcnn_pp_wn \
      --set num_filters=32 num_resnet=1 num_hierarchies=2 num_logistic_mix=5 dropout_p=0.1 \
            weight_norm=true output_init_scale=1.0 ;;
  pixelrnn_row_lstm)
    $TFAR train pixelrnn_row_lstm $COMMON --time-budget ${TIME_BUDGET:-1500} --out runs/zoo/pixelrnn_row_lstm \
      --set units=32 num_layers=3 output_filters=64 ;;
  pixelrnn_diagonal_bilstm)
    $TFAR train pixelrnn_diagonal_bilstm $COMMON --time-budget ${TIME_BUDGET:-1500} --out runs/zoo/pixelrnn_diagonal_bilstm \
      --set units=32 num_layers=3 output_filters=64 ;;
  wavenet)
    $TFAR train wavenet --data /usr/share/asterisk/sounds/en_US_f_Allison --batch-size 8 --segment-length 4000 \
      --steps-per-epoch 200 --epochs ${EPOCHS:-100} --time-budget ${TIME_BUDGET:-1500} --lr 1e-3 --lr-schedule ${LR_SCHEDULE:-constant} --ema 0.995 --threads 1 --verbose 2 \
      --sample-seconds 1 --out runs/zoo/wavenet \
      --set num_stacks=2 layers_per_stack=9 residual_channels=32 dilation_channels=32 skip_channels=64 ;;
  wavenet_vocoder)
    # the zoo wavenet's size, conditioned on 80-band log-mel frames (hop 100, n_fft 512) of the same files;
    # no per-epoch samples (they need a mel): bench/vocoder_quality.py resynthesises the validation/test files
    $TFAR train wavenet_vocoder --data /usr/share/asterisk/sounds/en_US_f_Allison --batch-size 8 --segment-length 4000 \
      --steps-per-epoch 200 --epochs ${EPOCHS:-100} --time-budget ${TIME_BUDGET:-3000} --lr 1e-3 --lr-schedule ${LR_SCHEDULE:-constant} --ema 0.995 --threads 1 --verbose 2 \
      --out runs/zoo/wavenet_vocoder \
      --set num_stacks=2 layers_per_stack=9 residual_channels=32 dilation_channels=32 skip_channels=64 ;;
  *) echo "unknown entry $1" >&2; exit 2 ;;
esac
