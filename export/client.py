"""REST client for a tfar model behind TF Serving (standard library + NumPy only).

    python export/client.py --model pixelcnn sample --num 4 --seed 0 --out samples.npy
    python export/client.py --model pixelcnn log-prob samples.npy
    python export/client.py --model pixelcnn sample-steps --num 2 --seed 0   # one request per position

Requests use TF Serving's columnar ("inputs") format, which accepts the scalar
inputs of the sample, initial_state and step signatures.
"""

import argparse
import json
import sys
import urllib.error
import urllib.request

import numpy as np


class ServingError(RuntimeError):
    """TF Serving answered with an error (bad input, unknown model or signature)."""


class TfarClient:
    """Calls the signatures of one served model: log_prob, sample, initial_state, step."""

    def __init__(self, url="http://localhost:8501", model="pixelcnn", version=None, timeout=60.0):
        self.url = url.rstrip("/")
        self.model = model
        self.version = version
        self.timeout = timeout

    def _endpoint(self):
        version = f"/versions/{self.version}" if self.version is not None else ""
        return f"{self.url}/v1/models/{self.model}{version}:predict"

    def predict(self, signature, inputs):
        """POST {signature_name, inputs} and return the outputs as a dict of NumPy arrays."""
        body = {"signature_name": signature, "inputs": {k: _jsonable(v) for k, v in inputs.items()}}
        request = urllib.request.Request(
            self._endpoint(), data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except json.JSONDecodeError:
                pass
            raise ServingError(f"{signature}: HTTP {error.code}: {detail}") from None
        outputs = answer["outputs"]
        if not isinstance(outputs, dict):  # a single output is returned without its name
            outputs = {_SINGLE_OUTPUT.get(signature, "output"): outputs}
        return {name: np.asarray(value) for name, value in outputs.items()}

    def log_prob(self, x, condition=None):
        """log p(x) in nats and bits/dim for int levels x [B, *event_shape]."""
        inputs = {"x": np.asarray(x, np.int32)}
        if condition is not None:
            inputs["condition"] = np.asarray(condition, np.int32)
        return self.predict("log_prob", inputs)

    def sample(self, num_samples, seed=0, temperature=1.0, condition=None, length=None):
        """int32 samples [num_samples, *event_shape] drawn by the server (same as model.sample)."""
        inputs = {"num_samples": int(num_samples), "seed": int(seed), "temperature": float(temperature)}
        if condition is not None:
            inputs["condition"] = np.asarray(condition, np.int32)
        if length is not None:
            inputs["length"] = int(length)
        return self.predict("sample", inputs)["samples"].astype(np.int32)

    def sample_with_steps(self, num_samples, num_positions, seed=0, temperature=1.0, condition=None):
        """Ancestral sampling in the client: the server runs one step per request.

        Shows how the state travels: initial_state gives ``state__*`` tensors, each step
        returns ``params`` and ``next_state__*``, which are sent back as ``state__*``.
        Draws from softmax (params [B, L]) or Bernoulli (params [B]) heads with NumPy
        noise; the result is flat [B, num_positions] in the model's sampling order.
        """
        rng = np.random.default_rng(seed)
        inputs = {"batch_size": int(num_samples)}
        if condition is not None:
            inputs["condition"] = np.asarray(condition, np.int32)
        state = self.predict("initial_state", inputs)
        x = np.zeros([num_samples], np.int32)
        drawn = []
        for _ in range(num_positions):
            out = self.predict("step", {"x_prev": x, **state})
            x = draw(out["params"], rng, temperature)
            drawn.append(x)
            state = {"state__" + name[len("next_state__"):]: v for name, v in out.items() if name != "params"}
        return np.stack(drawn, axis=1)


_SINGLE_OUTPUT = {"sample": "samples"}


def draw(params, rng, temperature=1.0):
    """One value per row: Gumbel-max over logits [B, L], or a Bernoulli draw from logits [B]."""
    logits = np.asarray(params, np.float64) / temperature
    if logits.ndim == 1:
        return (logits + rng.logistic(size=logits.shape) > 0).astype(np.int32)
    return np.argmax(logits + rng.gumbel(size=logits.shape), axis=-1).astype(np.int32)


def _jsonable(value):
    array = np.asarray(value)
    return array.item() if array.ndim == 0 else array.tolist()


def _print_grid(samples, levels):
    """Grey images as ASCII art (first channel)."""
    ramp = " .:-=+*#%@"
    for image in samples:
        grid = image[..., 0] if image.ndim == 3 else image[None]
        for row in grid:
            print("".join(ramp[int(v) * (len(ramp) - 1) // max(levels - 1, 1)] for v in row))
        print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://localhost:8501", help="TF Serving REST address")
    parser.add_argument("--model", default="pixelcnn", help="model name in models.config")
    parser.add_argument("--version", type=int, default=None, help="model version (default: latest)")
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("sample", help="draw samples with the sample signature")
    steps = commands.add_parser("sample-steps", help="draw samples with initial_state + one step request per position")
    for p in (sample, steps):
        p.add_argument("--num", type=int, default=4)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--temperature", type=float, default=1.0)
        p.add_argument("--label", type=int, default=None, help="class label of a conditional model")
        p.add_argument("--out", default=None, help="save the samples as .npy")
        p.add_argument("--levels", type=int, default=256, help="value range, for the ASCII preview")
    sample.add_argument("--length", type=int, default=None, help="audio: number of samples")
    steps.add_argument("--positions", type=int, required=True, help="positions to draw (e.g. H*W*C)")
    score = commands.add_parser("log-prob", help="score int levels stored in a .npy file")
    score.add_argument("path")
    score.add_argument("--label", type=int, default=None)
    args = parser.parse_args(argv)

    client = TfarClient(args.url, args.model, args.version)
    if args.command == "log-prob":
        x = np.load(args.path)
        condition = None if args.label is None else np.full([len(x)], args.label, np.int32)
        out = client.log_prob(x, condition)
        for lp, bpd in zip(out["log_prob"], out["bits_per_dim"]):
            print(f"log_prob {lp:.3f} nats   {bpd:.4f} bits/dim")
        return 0
    condition = None if args.label is None else np.full([args.num], args.label, np.int32)
    if args.command == "sample":
        samples = client.sample(args.num, args.seed, args.temperature, condition, args.length)
    else:
        samples = client.sample_with_steps(args.num, args.positions, args.seed, args.temperature, condition)
    if args.out:
        np.save(args.out, samples)
        print(f"saved {samples.shape} -> {args.out}")
    if samples.ndim == 4:
        _print_grid(samples, args.levels)
    else:
        print(samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
