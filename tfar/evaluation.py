"""Exact evaluation of a trained model over a whole split: bits/dim for images, nats/sample for audio.

Both sum exact log-likelihoods in float64 over every example (no sampling, no
averaging of batch means), so the figure is the same whatever the batch size:

    bits/dim    = sum_n -log2 p(x_n) / sum_n dims(x_n)
    nats/sample = sum_f -ln p(codes_f) / sum_f len(codes_f)     (every file scored whole)

Used by ``tfar eval``, the model cards, the notebooks and the benchmarks.
"""

import keras
import numpy as np
import tensorflow as tf


def evaluate_bits_per_dim(model, dataset, verbose=1):
    """Exact mean bits/dim over every example of ``dataset`` (batches of x or (x, labels)).

    Returns (mean bits/dim, number of examples); a ValueError for an empty dataset.
    """

    @tf.function(reduce_retracing=True, autograph=False)
    def batch_bits(x, condition):
        return model.bits_per_dim(x, condition)

    steps = int(dataset.cardinality())
    bar = keras.utils.Progbar(steps if steps > 0 else None, verbose=verbose, unit_name="batch")
    total, count = 0.0, 0
    for i, element in enumerate(dataset):
        x, condition = element if isinstance(element, tuple) else (element, None)
        bits = batch_bits(x, condition).numpy().astype(np.float64)
        total += bits.sum()
        count += len(bits)
        bar.update(i + 1, values=[("bits_per_dim", float(bits.mean()))])
    if count == 0:
        raise ValueError("the evaluation split is empty")
    return total / count, count


def evaluate_audio(model, waves, verbose=1):
    """Exact nats per sample over whole files: sum_f -log p(codes_f) / sum_f len(codes_f).

    Each float wave is mu-law encoded in full and scored in one pass, so every sample
    is predicted from its true past (the file start sees the zero padding, as in
    training). Returns (nats per sample, number of samples).
    """
    from tfar.data.audio import mu_law_encode

    @tf.function(input_signature=[tf.TensorSpec([1, None], tf.int32)], autograph=False)
    def file_log_prob(codes):
        return model.log_prob(codes)[0]

    mel = getattr(model, "features", None)  # a vocoder scores p(codes | log-mel frames of the whole file)
    if mel is not None:
        from tfar.data.audio import log_mel_spectrogram

        hop = mel["hop_length"]
        waves = [w[: len(w) // hop * hop] for w in waves]  # a trailing partial hop has no frame: not scored
        frames = {id(w): log_mel_spectrogram(w, **mel)[None] for w in waves}

        @tf.function(input_signature=[tf.TensorSpec([1, None], tf.int32),
                                      tf.TensorSpec([1, None, mel["num_mels"]], tf.float32)], autograph=False)
        def conditioned_log_prob(codes, features):
            return model.log_prob(codes, features=features)[0]

        def file_log_prob(codes, wave):  # noqa: F811 - the vocoder's variant
            return conditioned_log_prob(codes, frames[id(wave)])
    else:
        plain_log_prob = file_log_prob

        def file_log_prob(codes, wave):  # noqa: F811
            return plain_log_prob(codes)

    total_samples = sum(len(w) for w in waves)
    if total_samples == 0:
        raise ValueError("the evaluation split is empty")
    bar = keras.utils.Progbar(total_samples, verbose=verbose, unit_name="sample", stateful_metrics=["nats/sample"])
    nats, count = 0.0, 0
    for wave in waves:
        codes = mu_law_encode(wave, model.num_levels)[None]
        nats -= float(file_log_prob(codes, wave))
        count += len(wave)
        bar.update(count, values=[("nats/sample", nats / count)])
    return nats / count, count


__all__ = ["evaluate_audio", "evaluate_bits_per_dim"]
