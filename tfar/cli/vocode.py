"""``tfar vocode MODEL --wav IN.wav --out OUT.wav``: speech from a mel spectrogram with a WaveNet vocoder.

    tfar vocode wavenet_vocoder --wav IN.wav --out OUT.wav [--seed N]     # resynthesise a recording
    tfar vocode wavenet_vocoder --mel MEL.npy --out OUT.wav               # a mel [frames, num_mels]
    tfar vocode wavenet_vocoder --wav a.wav b.wav --out OUT_FOLDER/       # several: OUT_FOLDER/a.wav, ...

A WAV input is read as mono (a stereo file is refused), resampled to the vocoder's rate
and turned into its log-mel frames (``vocoder.mel_spectrogram``); the output has
frames x hop samples at the vocoder's rate. A ``.npy`` mel must be float
[frames, num_mels] of the vocoder's front end; a ``.npz`` may also say its
``sample_rate`` (and ``hop_length``, ``num_mels``), which must match the vocoder's.
"""

import os
import sys
import time

from tfar.cli import common
from tfar.cli.common import CommandError


def add_parser(commands):
    vocode = commands.add_parser(
        "vocode", help="turn WAV files or mel spectrograms into speech with a WaveNet vocoder",
        description="Resynthesise WAV files (any rate; resampled) or vocode mel spectrograms (.npy/.npz) with a "
                    "vocoder zoo entry or run folder; writes 16-bit mono WAV files at the vocoder's rate.",
    )
    vocode.add_argument("model", help="vocoder zoo entry (e.g. wavenet_vocoder) or a run folder of one")
    inputs = vocode.add_mutually_exclusive_group(required=True)
    inputs.add_argument("--wav", nargs="+", metavar="IN.wav", help="recordings to resynthesise from their mel")
    inputs.add_argument("--mel", nargs="+", metavar="MEL.npy", help="mel spectrograms [frames, num_mels] (.npy, .npz)")
    vocode.add_argument("--out", required=True,
                        help="output WAV (one input), or a folder (several inputs: FOLDER/<input name>.wav)")
    vocode.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    vocode.add_argument("--temperature", type=common.POSITIVE_FLOAT, default=1.0, help="default: %(default)s")
    common.add_model_source_arguments(
        vocode, weights_help="run folder checkpoint (default: %(default)s)",
        untrained_help="a zoo entry's architecture with fresh weights (for tests and timing)",
        set_help="with --untrained: config overrides of the zoo entry (JSON values)")
    vocode.set_defaults(func=run)


def read_wav_mono(path):
    """(float32 samples [T] in [-1, 1], rate) of a mono PCM WAV, or a named error (empty, stereo, not a WAV)."""
    import numpy as np
    import tensorflow as tf

    from tfar.data import audio

    if not os.path.isfile(path):
        raise CommandError(f"no such file: {path!r}")
    contents = tf.io.read_file(path)
    if int(tf.strings.length(contents)) == 0:
        raise audio.EmptyAudioError(f"audio file {path!r} is empty (0 bytes)")
    try:
        wave, rate = tf.audio.decode_wav(contents)
    except (tf.errors.InvalidArgumentError, tf.errors.OpError) as error:
        detail = str(getattr(error, "message", error)).splitlines()[0]
        raise audio.AudioInputError(f"cannot decode {path!r} as a PCM WAV file: {detail}") from None
    wave = wave.numpy()
    if wave.shape[1] != 1:
        raise audio.StereoAudioError(f"{path!r} has {wave.shape[1]} channels; the vocoder reads mono speech "
                                     "(mix it down first)")
    if wave.shape[0] == 0:
        raise audio.EmptyAudioError(f"audio file {path!r} holds no samples")
    return wave[:, 0].astype(np.float32), int(rate.numpy())


def read_mel(path, vocoder):
    """float [frames, num_mels] of a .npy, or of a .npz's "mel" with its recorded front end checked."""
    import numpy as np

    from tfar.data import audio

    if not os.path.isfile(path):
        raise CommandError(f"no such file: {path!r}")
    if os.path.getsize(path) == 0:
        raise audio.EmptyAudioError(f"mel file {path!r} is empty (0 bytes)")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise audio.MelShapeError(f"cannot read {path!r} as a NumPy .npy/.npz file: {error}") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            if "mel" not in loaded.files:
                raise audio.MelShapeError(f"{path!r} holds {loaded.files}; expected an array named 'mel'")
            meta = {k: loaded[k].item() for k in ("sample_rate", "hop_length", "num_mels") if k in loaded.files}
            mel = loaded["mel"]
        if "sample_rate" in meta and int(meta["sample_rate"]) != vocoder.sample_rate:
            raise audio.SampleRateError(f"{path!r} is a mel of {meta['sample_rate']} Hz audio; this vocoder works at "
                                        f"{vocoder.sample_rate} Hz (recompute the mel with its front end)")
        if "hop_length" in meta and int(meta["hop_length"]) != vocoder.features["hop_length"]:
            raise audio.MelShapeError(f"{path!r} has a hop of {meta['hop_length']} samples; this vocoder's is "
                                      f"{vocoder.features['hop_length']}")
    else:
        mel = loaded
    if mel.ndim != 2:
        raise audio.MelShapeError(f"{path!r}: mel must be [frames, num_mels], got shape {mel.shape}")
    return vocoder.check_mel(mel)[0]


def _outputs(inputs, out):
    if len(inputs) == 1 and not (out.endswith(os.sep) or os.path.isdir(out)):
        return [out]
    names = [os.path.splitext(os.path.basename(p))[0] + ".wav" for p in inputs]
    if len(set(names)) != len(names):
        raise CommandError("several inputs share a file name; vocode them into different --out folders")
    return [os.path.join(out, name) for name in names]


def run(args):
    import keras
    import numpy as np

    from tfar.data import audio
    from tfar.training import run as run_lib

    overrides = common.parse_overrides(args.set)
    if overrides and not args.untrained:
        raise CommandError("--set changes the architecture: use it with --untrained")
    model, _, _ = run_lib.load_model(args.model, args.weights, pretrained=not args.untrained, overrides=overrides)
    if not hasattr(model, "vocode"):
        raise CommandError(f"{args.model} is not a vocoder (no mel front end); try wavenet_vocoder")
    inputs = args.wav or args.mel
    outputs = _outputs(inputs, args.out)
    # read and check every input before any slow sampling
    mels = []
    for path in inputs:
        if args.wav:
            wave, rate = read_wav_mono(path)
            wave = audio.resample(wave, rate, model.sample_rate)
            mels.append(model.mel_spectrogram(wave))
        else:
            mels.append(read_mel(path, model))
    hop = model.features["hop_length"]
    progress = keras.utils.Progbar(sum(len(m) for m in mels) * hop, unit_name="sample",
                                   verbose=1 if sys.stderr.isatty() or len(mels) > 1 else 2)
    start, done = time.time(), 0
    for mel, out in zip(mels, outputs):
        wave = model.vocode(mel, seed=args.seed, temperature=args.temperature)
        pcm = np.round(np.clip(wave, -1.0, 1.0) * audio.PCM_MAX).astype(np.int16)
        audio.write_wav(out, pcm, model.sample_rate)
        done += len(wave)
        progress.update(done)
    seconds = time.time() - start
    audio_seconds = done / model.sample_rate
    print(f"wrote {len(outputs)} file(s), {audio_seconds:.2f} s of audio at {model.sample_rate} Hz in {seconds:.1f} s "
          f"({audio_seconds / max(seconds, 1e-9):.2f}x real time): {', '.join(outputs)}")
    return 0
