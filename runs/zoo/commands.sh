#!/usr/bin/env bash
# The zoo's training commands (one intra-op thread each, so several run side by side on a small CPU).
# Rerun a line to resume it after an interruption. Usage: runs/zoo/commands.sh NAME
# TFAR_CODE names a checkout to import tfar from (a frozen copy, e.g. `git worktree add`), so that a
# run of many hours keeps one version of the code while the working tree changes; default: this one.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="${TFAR_CODE:-$PWD}"
TFAR=".venv/bin/python -P -m tfar"  # -P: import tfar from PYTHONPATH, not from the current folder
COMMON="--data fashion_mnist --source full --conditional --batch-size 32 --steps-per-epoch 500 --lr 1e-3 --lr-schedule cosine --ema 0.999 --threads 1 --verbose 2"
case "$1" in
  gated_pixelcnn)
    $TFAR train gated_pixelcnn $COMMON --epochs 12 --out runs/zoo/gated_pixelcnn \
      --set filters=48 num_layers=12 output_filters=96 ;;
  pixelcnn)
    $TFAR train pixelcnn $COMMON --epochs 16 --out runs/zoo/pixelcnn \
      --set filters=96 num_residual_blocks=12 output_filters=128 ;;
  pixelcnn_pp)
    $TFAR train pixelcnn_pp $COMMON --epochs 8 --out runs/zoo/pixelcnn_pp \
      --set num_filters=64 num_resnet=2 num_hierarchies=3 num_logistic_mix=10 dropout_p=0.1 weight_norm=true ;;
  pixelrnn_row_lstm)
    $TFAR train pixelrnn_row_lstm $COMMON --epochs 10 --out runs/zoo/pixelrnn_row_lstm \
      --set units=48 num_layers=4 output_filters=96 ;;
  pixelrnn_diagonal_bilstm)
    $TFAR train pixelrnn_diagonal_bilstm $COMMON --epochs 10 --out runs/zoo/pixelrnn_diagonal_bilstm \
      --set units=48 num_layers=3 output_filters=96 ;;
  wavenet)
    $TFAR train wavenet --data /usr/share/asterisk/sounds/en_US_f_Allison --batch-size 8 --segment-length 4000 \
      --steps-per-epoch 500 --epochs 16 --lr 1e-3 --lr-schedule cosine --ema 0.999 --threads 1 --verbose 2 \
      --sample-seconds 1 --out runs/zoo/wavenet \
      --set num_stacks=2 layers_per_stack=10 residual_channels=48 dilation_channels=48 skip_channels=96 ;;
  *) echo "unknown entry $1" >&2; exit 2 ;;
esac
