"""``tfar bench``: fast (cached step) against naive sampling, side by side, for zoo models."""

from tfar.cli import common


def add_parser(commands):
    bench = commands.add_parser(
        "bench", help="time fast (cached step) against naive sampling for zoo models",
        description="Sample from zoo models with the fast single-step graph and with the naive full-recompute "
                    "sampler, side by side, and report both times and whether the samples are identical.",
    )
    bench.add_argument("models", nargs="*", metavar="MODEL", help="zoo names (default: the whole zoo)")
    bench.add_argument("--num", type=common.POSITIVE_INT, default=4, help="samples per method (default: %(default)s)")
    bench.add_argument("--length", type=common.POSITIVE_INT, default=400,
                       help="samples per clip for audio models (default: %(default)s)")
    bench.add_argument("--repeats", type=common.POSITIVE_INT, default=3,
                       help="timed runs per method, after a warm-up run; medians reported (default: %(default)s)")
    bench.add_argument("--out", default=None, help="also write the results as JSON here")
    bench.set_defaults(func=run)


def run(args):
    from tfar import zoo
    from tfar.sampling.benchmark import compare_methods

    known = zoo.list_models()
    names = args.models or known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise common.CommandError(f"unknown zoo models {unknown}; the zoo has: {', '.join(known)}")
    results = {}
    print(f"{'model':<28} {'fast s':>8} {'naive s':>8} {'speed-up':>9}  identical")
    for name in names:
        record = zoo.info(name)
        model = zoo.load(name, pretrained=bool(record["weights"]))
        audio = zoo.is_audio(model)
        condition = None if model.num_classes is None else [i % model.num_classes for i in range(args.num)]
        result = compare_methods(model, args.num, condition=condition, length=args.length if audio else None,
                                 repeats=args.repeats)
        results[name] = dict(result, num_samples=args.num, length=args.length if audio else None,
                             pretrained=bool(record["weights"]))
        print(f"{name:<28} {result['fast_seconds']:>8.2f} {result['naive_seconds']:>8.2f} "
              f"{result['speedup']:>8.1f}x  {result['identical']}", flush=True)
    if args.out:
        common.write_json(args.out, results)
        print(f"-> {args.out}")
    return 0 if all(r["identical"] for r in results.values()) else 1
