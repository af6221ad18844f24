"""Vocoder quality: resynthesise every test file from its own mel; PESQ (NB), STOI and log-mel distance vs Griffin-Lim.

    pip install -e .[bench]
    nice -n 5 python bench/vocoder_quality.py                    # the zoo entry, every test file
    python bench/vocoder_quality.py --model runs/zoo/wavenet_vocoder --limit 3 --out vocoder_quality_early

For each file of the split (default "test", the 25 files the wavenet entries never train
or choose checkpoints on): read it like the training data (8 kHz, silence-trimmed, cut to
whole hops), take the vocoder's own log-mel (``vocoder.mel_spectrogram``) and turn it back
into a waveform two ways:

* ``wavenet``: ``vocoder.vocode(mel, seed)`` (the cached step sampler);
* ``griffin_lim``: librosa's ``mel_to_audio`` recipe (``feature.inverse.mel_to_stft``'s
  non-negative least squares, then ``griffinlim`` with 60 iterations), run on the filterbank
  the mel was computed with (tf.signal's HTK triangles, magnitudes; librosa's default Slaney
  filterbank would invert a different mel), and delayed by hop / 2 samples because
  librosa's centred frame j sits on sample j*hop while tfar's sits on j*hop + hop / 2.

Each is scored against the original with PESQ narrow band (ITU-T P.862, ``pesq`` at 8 kHz
'nb'), STOI (``pystoi``, Taal et al. 2011) and the mean absolute log-mel difference (nats,
over frames x bands, the vocoder's own front end). One row per file and the mean; JSON and
Markdown into bench/results/. ``--write-wavs DIR`` keeps the original and both
resyntheses of the first files.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
SPEECH = "/usr/share/asterisk/sounds/en_US_f_Allison"
METHODS = ("wavenet", "griffin_lim")
SCORES = ("pesq_nb", "stoi", "log_mel_l1")


def griffin_lim(mel, features, iterations=60):
    """Wave [frames * hop] from a tfar log-mel [frames, num_mels] by librosa's mel_to_audio steps."""
    import librosa

    from tfar.data import audio

    basis = audio.mel_filterbank(features["sample_rate"], features["frame_length"], features["num_mels"],
                                 features["fmin"], features["fmax"]).numpy().T  # [mels, bins]
    magnitude = librosa.util.nnls(basis, np.exp(mel).T.astype(np.float64))  # [bins, frames]
    hop, n = features["hop_length"], features["frame_length"]
    length = mel.shape[0] * hop
    # no length=: with it, librosa's re-analysis of the frames' span gives one frame more than it has
    wave = librosa.griffinlim(magnitude, n_iter=iterations, hop_length=hop, win_length=n,
                              n_fft=audio.fft_length(n), window="hann", center=True, random_state=0)
    wave = np.pad(wave, (0, max(0, length - len(wave))))[:length]
    shift = n // 2 - audio.mel_padding(n, hop)  # tfar frame j is centred on j*hop + shift (hop / 2)
    return np.clip(np.concatenate([np.zeros(shift), wave])[:length], -1, 1).astype(np.float32)


def scores(reference, degraded, vocoder):
    from pesq import pesq
    from pystoi import stoi

    rate = vocoder.sample_rate
    try:
        p = float(pesq(rate, reference, degraded, "nb"))
    except Exception as error:  # pesq raises on inputs without speech activity
        print(f"  PESQ failed: {error}", file=sys.stderr)
        p = None
    s = float(stoi(reference, degraded, rate, extended=False))
    distance = float(np.mean(np.abs(vocoder.mel_spectrogram(degraded) - vocoder.mel_spectrogram(reference))))
    return {"pesq_nb": p, "stoi": s, "log_mel_l1": distance}


def _mean(rows, method, score):
    values = [r[method][score] for r in rows if r[method][score] is not None]
    return statistics.fmean(values) if values else None


def markdown(record):
    rows = record["rows"]
    lines = [f"# Vocoder quality: `{record['model']}` against Griffin-Lim ({record['split']} files)", "",
             f"Weights: {record['weights']}. Command: `{record['command']}`", "",
             "| file | seconds | WaveNet PESQ | Griffin-Lim PESQ | WaveNet STOI | Griffin-Lim STOI "
             "| WaveNet log-mel L1 | Griffin-Lim log-mel L1 | WaveNet x real time |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def f(v, fmt="{:.3f}"):
        return "?" if v is None else fmt.format(v)

    for r in rows + [record["mean"]]:
        w, g = r["wavenet"], r["griffin_lim"]
        lines.append(f"| {r['file']} | {f(r.get('seconds'), '{:.2f}')} | {f(w['pesq_nb'])} | {f(g['pesq_nb'])} | "
                     f"{f(w['stoi'])} | {f(g['stoi'])} | {f(w['log_mel_l1'])} | {f(g['log_mel_l1'])} | "
                     f"{f(r.get('real_time_factor'), '{:.2f}')} |")
    lines += ["", "PESQ: ITU-T P.862 narrow band (`pesq`, 8 kHz 'nb'); STOI: `pystoi`; log-mel L1: mean |difference| "
              "of the vocoder's log-mel (nats). Real-time factor: audio seconds per wall second of `vocode` at "
              "batch 1 on this machine (shared with training runs when measured: see the JSON's note)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="wavenet_vocoder", help="zoo entry or run folder of a vocoder")
    parser.add_argument("--weights", choices=("best", "last"), default="best", help="run folder checkpoint")
    parser.add_argument("--data", default=SPEECH)
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--limit", type=int, default=None, help="only the first N files (shortest first)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gl-iterations", type=int, default=60)
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow intra-op threads")
    parser.add_argument("--write-wavs", default=None, metavar="DIR", help="write original + resyntheses here")
    parser.add_argument("--out", default="vocoder_quality", help="results file stem under bench/results/")
    args = parser.parse_args(argv)

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    from tfar.data import audio
    from tfar.models.vocoder import FRAME_BUCKET
    from tfar.training import run as run_lib

    vocoder, info, run_dir = run_lib.load_model(args.model, args.weights)
    features = vocoder.features
    hop = features["hop_length"]
    waves, _, names = audio.load_corpus(args.data, vocoder.sample_rate, args.split,
                                        trim_threshold=audio_trim(info))
    order = sorted(range(len(waves)), key=lambda i: (len(waves[i]), names[i]))[: args.limit]
    rows, warm = [], set()
    for k, i in enumerate(order):
        wave = waves[i][: len(waves[i]) // hop * hop]
        mel = vocoder.mel_spectrogram(wave)
        bucket = -(-len(mel) // FRAME_BUCKET)
        if bucket not in warm:  # vocode compiles once per bucket of frames: not timed
            vocoder.vocode(mel, seed=args.seed)
            warm.add(bucket)
        start = time.time()
        resynth = vocoder.vocode(mel, seed=args.seed)
        seconds = time.time() - start
        gl = griffin_lim(mel, features, args.gl_iterations)
        row = {"file": names[i], "seconds": len(wave) / vocoder.sample_rate,
               "real_time_factor": len(wave) / vocoder.sample_rate / seconds,
               "wavenet": scores(wave, resynth, vocoder), "griffin_lim": scores(wave, gl, vocoder)}
        rows.append(row)
        print(f"{k + 1}/{len(order)} {names[i]}: " + ", ".join(
            f"{m} " + " ".join(f"{s} {row[m][s]:.3f}" if row[m][s] is not None else f"{s} ?" for s in SCORES)
            for m in METHODS) + f"; vocode {row['real_time_factor']:.2f}x real time", flush=True)
        if args.write_wavs and k < 3:
            stem = os.path.join(args.write_wavs, os.path.splitext(names[i].replace("/", "_"))[0])
            for suffix, signal in (("original", wave), ("wavenet", resynth), ("griffin_lim", gl)):
                pcm = np.round(np.clip(signal, -1, 1) * audio.PCM_MAX).astype(np.int16)
                audio.write_wav(f"{stem}_{suffix}.wav", pcm, vocoder.sample_rate)
    mean = {"file": f"**mean of {len(rows)}**", "seconds": statistics.fmean(r["seconds"] for r in rows),
            "real_time_factor": sum(r["seconds"] for r in rows) / sum(r["seconds"] / r["real_time_factor"]
                                                                     for r in rows)}
    for m in METHODS:
        mean[m] = {s: _mean(rows, m, s) for s in SCORES}
    weights = (f"{run_lib.weights_path(run_dir, args.weights)}" if run_dir else
               f"zoo entry {args.model} (sha256 {info_sha(args.model)})")
    record = {"model": args.model, "weights": weights, "split": args.split, "files": len(rows),
              "seed": args.seed, "griffin_lim_iterations": args.gl_iterations, "features": features,
              "command": "python bench/vocoder_quality.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "note": "real_time_factor: vocode after a warm-up call per bucket of frames, on the machine as it was (it may have been shared)",
              "rows": rows, "mean": mean}
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, args.out + ".json"), "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    with open(os.path.join(RESULTS, args.out + ".md"), "w") as f:
        f.write(markdown(record))
    print(markdown(record))
    return record


def audio_trim(info):
    return ((info.get("data") or {}).get("trim_threshold")) or 0.01


def info_sha(name):
    from tfar import zoo

    return zoo.info(name).get("weights_sha256")


if __name__ == "__main__":
    main()
