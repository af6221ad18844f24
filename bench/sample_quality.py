"""Are class-conditional samples recognisable? A Fashion-MNIST classifier judges the zoo's samples.

    python bench/sample_quality.py [--entries gated_pixelcnn pixelcnn ...] [--per-class 10] [--quick]

1. A small CNN classifier is trained on the real Fashion-MNIST training split (cached in
   bench/results/fashion_mnist_classifier.keras) and scored on the real test images.
2. Every class-conditional zoo entry draws ``per_class`` samples of each of the 10 classes
   (seed 0, temperature 1: the model's own distribution; ``--temperature T`` adds rows of
   its own, drawn at T) and the classifier labels them.
   The figure is the share of samples labelled as the class they were drawn for; real
   test images give the classifier's own accuracy, chance is 10%.
3. Per-class grids (one row per class) go to bench/results/samples_<entry>.png, and the
   table to bench/results/sample_quality.{json,md}.

A benchmark, not a timed test: it says how good the zoo's weights are, not how fast.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
CLASSIFIER = os.path.join(RESULTS, "fashion_mnist_classifier.keras")
LABELS = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def arrays(split, limit=None):
    """(images float32 [N, 28, 28, 1] in [0, 1], labels int32 [N]) of a real Fashion-MNIST split."""
    import tfar.data

    data = tfar.data.load("fashion_mnist", split=split, batch_size=10000, with_labels=True, shuffle=False,
                          limit=limit, source="full")
    x, y = zip(*[(a.numpy(), b.numpy()) for a, b in data])
    return np.concatenate(x).astype(np.float32) / 255.0, np.concatenate(y)


def classifier(epochs=5, retrain=False, quick=False):
    """The cached classifier, trained on the training split (validation split held out) when missing."""
    import keras

    if os.path.isfile(CLASSIFIER) and not retrain and not quick:
        return keras.saving.load_model(CLASSIFIER)
    keras.utils.set_random_seed(0)
    # small enough to train in a few CPU minutes; about 0.9 accuracy on the real test images
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = arrays("train", limit=2000 if quick else None)
    val_x, val_y = arrays("validation", limit=500 if quick else None)
    model.fit(x, y, epochs=1 if quick else epochs, batch_size=128, validation_data=(val_x, val_y), verbose=2)
    if not quick:
        os.makedirs(RESULTS, exist_ok=True)
        model.save(CLASSIFIER)
    return model


def recognised(judge, images, labels):
    """Share of ``images`` (int levels [N, 28, 28, 1]) the classifier labels as ``labels``, and the per-class shares."""
    predicted = np.argmax(judge.predict(np.asarray(images, np.float32) / 255.0, verbose=0), axis=-1)
    hits = predicted == np.asarray(labels)
    per_class = {LABELS[c]: float(hits[np.asarray(labels) == c].mean()) for c in range(10)}
    return float(hits.mean()), per_class


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", nargs="*", default=None, help="zoo entries (default: every conditional image entry)")
    parser.add_argument("--per-class", type=int, default=10, help="samples per class (default: %(default)s)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default: %(default)s)")
    parser.add_argument("--retrain", action="store_true", help="retrain the cached classifier")
    parser.add_argument("--quick", action="store_true",
                        help="smoke mode: a one-epoch classifier on 2,000 images, 1 sample per class, nothing cached")
    parser.add_argument("--out", default=RESULTS, help="folder for the table and grids (default: bench/results)")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other entries' rows of an earlier sample_quality.json in --out")
    args = parser.parse_args(argv)

    from tfar import visualize, zoo

    judge = classifier(retrain=args.retrain, quick=args.quick)
    test_x, test_y = arrays("test", limit=1000 if args.quick else None)
    real, real_per_class = recognised(judge, test_x * 255.0, test_y)
    print(f"classifier on {len(test_y)} real test images: {real:.3f}")
    per_class = 1 if args.quick else args.per_class
    names = args.entries or [n for n in zoo.list_models() if not zoo.is_audio(zoo.info(n))
                             and zoo.info(n)["config"].get("num_classes")]
    rows = {}
    earlier = os.path.join(args.out, "sample_quality.json")
    if args.merge and os.path.isfile(earlier):
        with open(earlier) as f:
            rows = json.load(f)["rows"]
    rows["real test images"] = {"recognised": round(real, 3), "per_class": real_per_class,
                                "num_images": int(len(test_y))}
    labels = np.repeat(np.arange(10, dtype=np.int32), per_class)
    os.makedirs(args.out, exist_ok=True)
    for name in names:
        model = zoo.load(name)
        start = time.perf_counter()
        samples = np.asarray(model.sample(len(labels), condition=labels, seed=0, temperature=args.temperature))
        seconds = time.perf_counter() - start
        share, shares = recognised(judge, samples, labels)
        # temperature 1 is the model's own distribution; other temperatures get rows (and grids) of their own
        key = name if args.temperature == 1.0 else f"{name}, temperature {args.temperature:g}"
        suffix = "" if args.temperature == 1.0 else f"_t{args.temperature:g}"
        grid = os.path.join(args.out, f"samples_{name}{suffix}.png")
        visualize.save_png(grid, visualize.image_grid(samples, model.num_levels, ncols=per_class))
        info = zoo.info(name)
        rows[key] = {"entry": name, "recognised": round(share, 3), "per_class": shares,
                     "num_samples": int(len(labels)), "temperature": args.temperature,
                     "test_bits_per_dim": (info.get("metrics") or {}).get("test_bits_per_dim"),
                     "sampling_seconds": round(seconds, 1), "grid": os.path.relpath(grid, HERE),
                     "weights_sha256": info.get("weights_sha256"),
                     "command": "python bench/sample_quality.py " + " ".join(argv if argv is not None else sys.argv[1:])}
        print(f"{name:<28} {share:.2f} of {len(labels)} samples recognised ({seconds:.0f} s to sample) -> {grid}",
              flush=True)
    if args.quick:
        return rows
    record = {"per_class": per_class, "seed": 0, "rows": rows,
              "command": "python bench/sample_quality.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    with open(os.path.join(args.out, "sample_quality.json"), "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    lines = ["| samples from | temperature | recognised as their class | test bits/dim |", "|---|---:|---:|---:|"]
    for name, row in rows.items():
        temperature = f"{row['temperature']:g}" if "temperature" in row else ""  # real images have none
        lines.append(f"| {row.get('entry', name)} | {temperature} | {row['recognised']:.0%} | "
                     f"{row.get('test_bits_per_dim') or ''} |")
    with open(os.path.join(args.out, "sample_quality.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return rows


if __name__ == "__main__":
    main()
