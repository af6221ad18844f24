"""``tfar sample RUN``: a PNG grid of samples or completions (images), or WAV clips (audio)."""

import math
import os
import time

from tfar.cli import common
from tfar.cli.common import CommandError


def add_parser(commands):
    sample = commands.add_parser(
        "sample", help="write a PNG grid (images) or a WAV file (audio) of samples",
        description="Sample from a run's model (or a zoo entry's pretrained weights) into a PNG grid. A "
                    "conditional model without --label gets one row per class; --complete fills in the bottom "
                    "halves of test images. Audio models write a 16-bit PCM WAV at the training sample rate; "
                    "--prompt continues a real recording, kept exactly at the start of the output.",
    )
    sample.add_argument("run", help="run folder written by `tfar train`, or a zoo name (pretrained weights)")
    sample.add_argument("--num", type=common.POSITIVE_INT, default=None,
                        help="number of samples (default: 16 images, 1 audio clip); a conditional model without "
                             "--label draws ceil(NUM / classes) per class, one row per class; several audio "
                             "clips go to OUT_1.wav, OUT_2.wav, ...")
    sample.add_argument("--out", default=None, help="PNG or WAV path (default: RUN/sample.png or RUN/sample.wav)")
    sample.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    sample.add_argument("--temperature", type=common.POSITIVE_FLOAT, default=1.0, help="default: %(default)s")
    sample.add_argument("--label", type=int, default=None, help="class label for a conditional model")
    sample.add_argument("--complete", action="store_true",
                        help="keep the top halves of real test images and sample the bottom halves")
    sample.add_argument("--method", choices=("fast", "naive"), default="fast", help="default: %(default)s")
    sample.add_argument("--data", default=None, help="dataset for --complete (default: the run's)")
    sample.add_argument("--source", choices=common.SOURCES, default=None, help="default: the run's")
    sample.add_argument("--weights", choices=("best", "last"), default="best", help="default: %(default)s")
    audio = sample.add_argument_group("audio models")
    audio.add_argument("--seconds", type=common.POSITIVE_FLOAT, default=2.0,
                       help="length of the output, prompt included (default: %(default)s)")
    audio.add_argument("--prompt", default=None, metavar="FILE.wav",
                       help="continue this recording (resampled and silence-trimmed like the training data)")
    audio.add_argument("--prompt-seconds", type=common.POSITIVE_FLOAT, default=None,
                       help="how much of the prompt to keep (default: half of --seconds, at most the whole file)")
    sample.set_defaults(func=run)


def run(args):
    import numpy as np

    from tfar import visualize, zoo
    from tfar.training.callbacks import sample_conditions

    model, info, run_dir = common.load_model(args.run, args.weights)
    if zoo.is_audio(model):
        return _run_audio(args, model, info, run_dir)
    for flag, value in (("--prompt", args.prompt), ("--prompt-seconds", args.prompt_seconds)):
        if value is not None:
            raise CommandError(f"{flag} is for audio models; {args.run} is an image model (see --complete)")
    if args.label is not None and model.num_classes is None:
        raise CommandError(f"--label {args.label}: the run's model is unconditional")
    args.num = args.num or 16
    out = args.out or os.path.join(run_dir or ".", "sample.png")
    kwargs = dict(seed=args.seed, temperature=args.temperature, method=args.method)
    if args.complete:
        data_name = args.data or info["data"]["name"]
        source = args.source or info["data"].get("source", "auto")
        dataset = common.image_dataset(data_name, "test", args.num, model.num_classes, source, limit=args.num,
                                       num_levels=model.num_levels)
        originals, labels = common.first_examples(dataset, args.num)
        num = len(originals)
        rows = model.event_shape[0] // 2
        condition = labels
        if model.num_classes is not None and args.label is not None:
            condition = np.full([num], args.label, np.int32)
        samples = np.asarray(model.sample(num, condition=condition, prefix=originals[:, :rows], **kwargs))
        pairs = np.stack([originals, samples], axis=1).reshape(2 * num, *samples.shape[1:])
        ncols = 2 * math.ceil(math.sqrt(num))
        what = f"{num} completions of the bottom {model.event_shape[0] - rows} rows (original | completion)"
    else:
        condition, ncols = sample_conditions(args.num, model.num_classes, args.label)
        num = args.num if condition is None else len(condition)
        pairs = np.asarray(model.sample(num, condition=condition, **kwargs))
        what = f"{num} samples" + (" (one row per class)" if condition is not None and args.label is None else "")
    visualize.save_png(out, visualize.image_grid(pairs, model.num_levels, ncols=ncols))
    print(f"wrote {what} -> {out}")
    return 0


def load_prompt(path, sample_rate, trim_threshold, seconds, num_levels):
    """mu-law codes [T0] of the start of a recording, read the way the training data is.

    The file is mixed to mono, resampled to ``sample_rate`` and silence-trimmed
    (:func:`tfar.data.audio.load_corpus`), then its first ``seconds`` (all of it if
    shorter) are encoded.
    """
    import numpy as np

    from tfar.data import audio

    if not os.path.isfile(path):
        raise CommandError(f"--prompt {path!r}: no such file")
    wave, rate = audio.load_wav(path)  # not a WAV -> ValueError naming the file
    if rate != sample_rate:
        wave = audio.resample(wave, rate, sample_rate)
    wave = audio.trim_silence(wave, trim_threshold)
    count = min(len(wave), max(1, int(round(seconds * sample_rate))))
    return np.asarray(audio.mu_law_encode(wave[:count], num_levels))


def _run_audio(args, model, info, run_dir):
    import numpy as np

    from tfar.data.audio import write_codes_wav

    for flag, value in (("--label", args.label), ("--complete", args.complete or None)):
        if value is not None:
            raise CommandError(f"{flag} is for image models; {args.run} is an audio model (see --prompt)")
    settings = common.audio_settings(info)
    rate = int(settings["sample_rate"])
    length = max(1, int(round(args.seconds * rate)))
    num = args.num or 1
    prefix, told = None, ""
    if args.prompt is not None:
        seconds = args.prompt_seconds if args.prompt_seconds is not None else args.seconds / 2
        prompt = load_prompt(args.prompt, rate, settings["trim_threshold"], seconds, model.num_levels)
        if len(prompt) >= length:
            raise CommandError(
                f"the prompt ({len(prompt)} samples) fills the whole output ({length} samples = --seconds "
                f"{args.seconds:g}); raise --seconds or lower --prompt-seconds"
            )
        prefix = np.repeat(prompt[None], num, axis=0)
        told = f", the first {len(prompt) / rate:.2f} s from {args.prompt}"
    elif args.prompt_seconds is not None:
        raise CommandError("--prompt-seconds needs --prompt FILE.wav")
    print(f"sampling {num} x {length} samples ({length / rate:.2f} s at {rate} Hz, {args.method})...", flush=True)
    start = time.perf_counter()
    codes = np.asarray(model.sample(num, seed=args.seed, temperature=args.temperature, prefix=prefix, length=length,
                                    method=args.method))
    took = time.perf_counter() - start
    out = args.out or os.path.join(run_dir or ".", "sample.wav")
    root, ext = os.path.splitext(out)
    paths = [out] if num == 1 else [f"{root}_{k + 1}{ext or '.wav'}" for k in range(num)]
    for path, clip in zip(paths, codes):
        write_codes_wav(path, clip, rate, model.num_levels)
    shown = out if num == 1 else f"{paths[0]} ... {paths[-1]}"
    print(f"wrote {num} x {length / rate:.2f} s of 16-bit PCM at {rate} Hz{told} -> {shown} "
          f"(took {took:.1f} s, {num * length / max(took, 1e-9):.0f} samples/s)")
    return 0
