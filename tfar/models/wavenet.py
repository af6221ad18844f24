"""WaveNet (van den Oord et al. 2016, "WaveNet: A Generative Model for Raw Audio", arXiv:1609.03499).

    codes x [B, T] -> one-hot, shifted right by one sample (position t holds x[t-1])
      -> 1x1 input projection to ``residual_channels``
      -> num_stacks x layers_per_stack gated residual layers, dilations 1, 2, ..., 2^(L-1):
             z = CausalDilatedConv1D(x) [+ V_f,g h_label] [+ W_f,g y_local]
             o = tanh(z_f) * sigmoid(z_g)                     (eq. 2; eq. 3 / sec. 2.5 conditioning)
             skip += 1x1(o);  x = x + 1x1(o)                  (residual and skip connections, sec. 2.4)
      -> ReLU, 1x1, ReLU, 1x1 -> ``num_levels``-way softmax over mu-law codes (sec. 2.2)

Receptive field: output t depends on exactly the ``receptive_field`` previous samples
x[t - R], ..., x[t - 1] with R = (kernel_size - 1) * sum(dilations) + 1 (the shifted
input counts one sample, every dilated layer adds (kernel_size - 1) * dilation).

Global conditioning: ``condition`` = class ids [B] (``num_classes``), embedded into every
layer's filter and gate. Local conditioning: ``features=`` float frames [B, F, C] with
C = ``local_condition_channels``; transposed convolutions (kernel = stride = each of
``upsample_factors``, hop = their product) repeat frame j over samples
[j*hop, (j+1)*hop) and a 1x1 projection adds it in every layer. Look-ahead: the
output for sample t sees frame floor(t / hop), i.e. features of up to hop - 1 later
samples (``look_ahead``); frame j never influences samples before j*hop.
Features go in as ``features=`` to ``call``/``log_prob``/``sample``; a training dataset
yields (codes, features), or (codes, dict(labels=..., features=...)) with both kinds.

Fast generation (Paine et al. 2016, "Fast WaveNet"): ``step`` keeps, for every layer,
its last (kernel_size - 1) * dilation inputs in a ring buffer (input t at slot
t mod ((kernel_size - 1) * dilation)), so one step reads kernel_size - 1 slots and
writes one per layer: O(layers x channels) work, independent of the receptive field.
All layers' rings are packed into one ``history`` tensor [slots, batch, channels],
read with one gather and written with one scatter per step. Written that way XLA
updates the history in place inside a compiled loop (one ring per layer gets copied
whole every step, because nothing orders its read before its write). Empty slots
are the zero padding before t = 0, so the fast path reproduces the parallel one.
The matrix products are batched: the past taps of every layer in one batched
product, the skip projections of every layer in one product at the end, the
class embeddings of every layer once per sequence in ``initial_state``. The state
is a plain nested dict of tensors passed in and out (nothing is mutated), so
``step`` can be exported.
"""

import keras
import numpy as np
import tensorflow as tf

from tfar.arg_checks import checked_int, positive_int
from tfar.distributions.discretized_logistic_mixture import ScalarLogisticMixture
from tfar.layers.causal_dilated_conv1d import CausalDilatedConv1D, ring_buffer_slots
from tfar.models import checks
from tfar.models.base import AutoregressiveModel

OUTPUTS = ("categorical", "logistic_mixture")


@keras.saving.register_keras_serializable(package="tfar")
class WaveNet(AutoregressiveModel):
    """WaveNet over mu-law codes with optional global (class) and local (frame) conditioning.

    Args:
      num_stacks: repetitions of the dilation cycle.
      layers_per_stack: layers per cycle, dilations 1, 2, ..., 2^(layers_per_stack - 1).
      residual_channels: width of the residual stream.
      dilation_channels: width of each gated activation.
      skip_channels: width of the skip sum and of the hidden output layer.
      kernel_size: taps of every dilated convolution (>= 2).
      num_levels: mu-law classes (256).
      output: "categorical" (256-way softmax) or "logistic_mixture" (a discretized
        logistic mixture over the mu-law levels, Salimans et al. 2017).
      num_logistic_mix: mixture components for output="logistic_mixture".
      num_classes: number of global condition ids, or None.
      local_condition_channels: channels C of local feature frames, or None.
      upsample_factors: transposed-convolution strides; their product is the hop.
    """

    def __init__(self, num_stacks=2, layers_per_stack=10, residual_channels=32, dilation_channels=32,
                 skip_channels=64, kernel_size=2, num_levels=256, output="categorical", num_classes=None,
                 local_condition_channels=None, upsample_factors=None, num_logistic_mix=10, **kwargs):
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        super().__init__(event_shape=(None,), num_levels=num_levels, num_classes=num_classes, **kwargs)
        self.num_logistic_mix = positive_int("num_logistic_mix", num_logistic_mix)
        if output == "logistic_mixture":
            self.head = ScalarLogisticMixture(self.num_levels, self.num_logistic_mix)
        self.num_stacks = positive_int("num_stacks", num_stacks)
        self.layers_per_stack = positive_int("layers_per_stack", layers_per_stack)
        self.residual_channels = positive_int("residual_channels", residual_channels)
        self.dilation_channels = positive_int("dilation_channels", dilation_channels)
        self.skip_channels = positive_int("skip_channels", skip_channels)
        self.kernel_size = checked_int("kernel_size", kernel_size, "an int >= 2", lambda k: k >= 2)
        self.output_type = output
        self.local_condition_channels = None
        self.upsample_factors = None
        if local_condition_channels is not None:
            self.local_condition_channels = positive_int("local_condition_channels", local_condition_channels)
            if not upsample_factors or not isinstance(upsample_factors, (list, tuple)):
                raise ValueError(
                    f"upsample_factors must be a non-empty list of positive ints with local conditioning, "
                    f"got {upsample_factors!r}"
                )
            self.upsample_factors = [positive_int("upsample_factors entry", f) for f in upsample_factors]
        elif upsample_factors is not None:
            raise ValueError(f"upsample_factors={upsample_factors!r} needs local_condition_channels")

        self.dilations = [2**i for _ in range(self.num_stacks) for i in range(self.layers_per_stack)]
        gates = 2 * self.dilation_channels
        policy = self.dtype_policy  # sublayers follow the model's dtype policy
        self.input_projection = keras.layers.Dense(self.residual_channels, name="input_projection", dtype=policy)
        self.dilated = [
            CausalDilatedConv1D(gates, self.kernel_size, d, name=f"layer{i}_dilated", dtype=policy)
            for i, d in enumerate(self.dilations)
        ]
        self.skip_projections = [
            keras.layers.Dense(self.skip_channels, name=f"layer{i}_skip", dtype=policy)
            for i in range(len(self.dilations))
        ]
        # the last layer's residual output would feed nothing
        self.residual_projections = [
            keras.layers.Dense(self.residual_channels, name=f"layer{i}_residual", dtype=policy)
            for i in range(len(self.dilations) - 1)
        ]
        self.label_projections = None
        if self.num_classes is not None:
            self.label_projections = [
                keras.layers.Embedding(self.num_classes, gates, name=f"layer{i}_label", dtype=policy)
                for i in range(len(self.dilations))
            ]
        self.upsample = self.local_projections = None
        if self.local_condition_channels is not None:
            self.upsample = [
                keras.layers.Conv1DTranspose(
                    self.local_condition_channels, f, strides=f, name=f"upsample{i}", dtype=policy
                )
                for i, f in enumerate(self.upsample_factors)
            ]
            self.local_projections = [
                keras.layers.Dense(gates, use_bias=False, name=f"layer{i}_local", dtype=policy)
                for i in range(len(self.dilations))
            ]
        self.output_hidden = keras.layers.Dense(self.skip_channels, name="output_hidden", dtype=policy)
        self.output_logits = keras.layers.Dense(self.head.params_per_value, name="output_logits", dtype=policy)

    # ------------------------------------------------------------- properties
    @property
    def receptive_field(self):
        """Previous samples each output depends on: (kernel_size - 1) * sum(dilations) + 1."""
        return (self.kernel_size - 1) * sum(self.dilations) + 1

    @property
    def hop(self):
        """Samples per local feature frame (product of ``upsample_factors``), or None."""
        return None if self.upsample_factors is None else int(np.prod(self.upsample_factors))

    @property
    def look_ahead(self):
        """Future samples whose feature frame an output may see: hop - 1 (0 without local features)."""
        return 0 if self.hop is None else self.hop - 1

    def num_positions(self, length=None):
        if length is None:
            raise ValueError("WaveNet generates audio of any length: pass length= (number of samples)")
        return positive_int("length", length)

    # ---------------------------------------------------------------- network
    def embed_input(self, x):
        """Codes [B, T] -> one-hot [B, T, num_levels] in the compute dtype."""
        return tf.one_hot(tf.cast(x, tf.int32), self.num_levels, dtype=self.compute_dtype)

    @staticmethod
    def _split_condition(condition):
        if isinstance(condition, dict):
            return condition.get("labels"), condition.get("features")
        return condition, None

    def upsample_features(self, features):
        """Frames [B, F, C] -> per-sample features [B, F * hop, C] (compute dtype)."""
        u = tf.cast(features, self.compute_dtype)
        for layer in self.upsample:
            u = layer(u)
        return u

    def _gate(self, i, z, labels, local):
        if self.label_projections is not None:
            emb = self.label_projections[i](labels)
            z = z + (emb[:, None, :] if len(z.shape) == 3 else emb)
        if local is not None:
            z = z + self.local_projections[i](local)
        f, g = tf.split(z, 2, axis=-1)
        return tf.tanh(f) * tf.sigmoid(g)

    def _output(self, skip):
        return self.output_logits(tf.nn.relu(self.output_hidden(tf.nn.relu(skip))))

    def network(self, h, condition=None, training=None):
        """One-hot input [B, T, L] -> logits [B, T, L]; ``condition`` labels or dict(labels, features)."""
        labels, features = self._split_condition(condition)
        local = None
        if self.local_condition_channels is not None:
            if features is None:
                raise ValueError("this WaveNet is locally conditioned: pass features= [batch, frames, channels]")
            local = self.upsample_features(features)[:, : tf.shape(h)[1]]
        h = tf.pad(h, [[0, 0], [1, 0], [0, 0]])[:, :-1]  # position t holds x[t - 1]
        x = self.input_projection(h)
        skip = 0.0
        for i, conv in enumerate(self.dilated):
            out = self._gate(i, conv(x), labels, local)
            skip = skip + self.skip_projections[i](out)
            if i < len(self.residual_projections):
                x = x + self.residual_projections[i](out)
        return self._output(skip)

    def call(self, x, condition=None, training=None, features=None):
        """Logits [B, T, num_levels] (float32); ``features`` [B, F, C] for a locally conditioned model."""
        if features is not None:
            condition = {"labels": condition, "features": features}
        return tf.cast(self.network(self.embed_input(x), condition, training=training), tf.float32)

    def build(self, input_shape=None):
        if self.built:
            return
        length = 16 if self.hop is None else 2 * self.hop
        labels = None if self.num_classes is None else tf.zeros([1], tf.int32)
        features = None
        if self.local_condition_channels is not None:
            features = tf.zeros([1, length // self.hop, self.local_condition_channels])
        self.call(tf.zeros([1, length], tf.int32), condition=labels, features=features)
        self.built = True

    # ------------------------------------------------------------- likelihood
    @property
    def feature_width(self):
        """Channels of the ``features`` frames the model takes (a vocoder: its mel bands)."""
        return self.local_condition_channels

    def _check_features(self, features, batch, length):
        if self.local_condition_channels is None:
            if features is not None:
                raise ValueError("this WaveNet has no local conditioning (local_condition_channels=None); got features")
            return None
        if features is None:
            raise ValueError("this WaveNet is locally conditioned: pass features= float [batch, frames, channels]")
        if not isinstance(features, (tf.Tensor, tf.Variable)):
            features = np.asarray(features)
        shape = tuple(features.shape)
        if not tf.as_dtype(features.dtype).is_floating or len(shape) != 3:
            raise ValueError(f"features must be float [batch, frames, channels], got {features.dtype} of shape {shape}")
        if shape[2] != self.feature_width:
            raise ValueError(f"features have {shape[2]} channels; expected {self.feature_width}")
        if None not in (batch, shape[0]) and shape[0] != batch:
            raise ValueError(f"features have batch {shape[0]}, expected {batch}")
        if None not in (length, shape[1]) and shape[1] * self.hop < length:
            raise ValueError(
                f"{shape[1]} feature frames cover {shape[1] * self.hop} samples (hop={self.hop}); need {length}"
            )
        return tf.cast(features, tf.float32)

    def log_prob(self, x, condition=None, training=False, features=None):
        """log p(x) in nats, float32 [batch]; codes x [batch, T] (+ features for local conditioning)."""
        x, condition = self._check(x, condition)
        features = self._check_features(features, x.shape[0], x.shape[1])
        if features is not None:
            condition = {"labels": condition, "features": features}
        return self._log_prob(x, condition, training=training)

    def bits_per_dim(self, x, condition=None, features=None):
        x, _ = self._check(x, condition)
        return -self.log_prob(x, condition, features=features) / (float(x.shape[1]) * np.log(2.0))

    def _unpack(self, data):
        """Datasets yield x, (x, labels), and with local conditioning (x, features) or (x, dict(labels, features))."""
        x, condition = super()._unpack(data)
        if self.local_condition_channels is not None and condition is not None and not isinstance(condition, dict):
            condition = {"labels": None, "features": condition}
        return x, condition

    def _checked_input(self, x, y):
        if self.local_condition_channels is None or not isinstance(x, tf.data.Dataset):
            return super()._checked_input(x, y)
        spec = x.element_spec
        x_spec = spec[0] if isinstance(spec, tuple) else spec
        if not isinstance(spec, tuple) or len(spec) < 2 or not x_spec.dtype.is_integer:
            raise ValueError("a locally conditioned WaveNet trains on a dataset of (int codes [B, T], features)")
        levels = self.num_levels

        def check(codes, *rest):
            expected = f"; expected levels in [0, {levels})"
            asserts = [
                tf.debugging.assert_greater_equal(
                    codes, tf.cast(0, codes.dtype), message=checks._TAG + "x has a value < 0" + expected
                ),
                tf.debugging.assert_less(
                    codes, tf.cast(levels, codes.dtype), message=checks._TAG + f"x has a value >= {levels}" + expected
                ),
            ]
            with tf.control_dependencies(asserts):
                return (tf.identity(codes), *rest)

        return x.map(check), None

    # --------------------------------------------------------------- sampling
    def initial_state(self, batch_size, condition=None):
        """Zero history (the padding before t = 0), position 0, and the conditioning.

        ``history`` [slots, batch, residual_channels] packs every layer's ring buffer;
        ``label_gates`` [layers, batch, 2 * dilation_channels] holds each layer's class
        embedding; ``features`` [batch, samples, channels] the upsampled local features.
        """
        labels, features = self._split_condition(condition)
        slots = (self.kernel_size - 1) * sum(self.dilations)
        state = {
            "position": tf.zeros([], tf.int32),
            "history": tf.zeros([slots, batch_size, self.residual_channels], self.compute_dtype),
        }
        if self.num_classes is not None:
            if labels is None:
                raise ValueError(f"this WaveNet conditions on {self.num_classes} classes: pass condition= labels")
            labels = tf.cast(labels, tf.int32)
            state["label_gates"] = tf.stack([embed(labels) for embed in self.label_projections])
        if self.local_condition_channels is not None:
            if features is None:
                raise ValueError("this WaveNet is locally conditioned: pass condition=dict(features=...)")
            state["features"] = self.upsample_features(features)
        return state

    def _weight(self, variable):
        return tf.cast(variable.value, self.compute_dtype)

    def step(self, x_prev, state):
        """Feed x[t-1] (ignored at t = 0), return logits [B, L] for position t and the new state.

        Per layer i with input x_i: z_i = x_i W_i,last + (past taps) W_i,past + b_i
        [+ label and local gates], o_i = tanh * sigmoid, x_i+1 = x_i + o_i R_i + r_i;
        then skip = [o_0 .. o_n-1] [S_0; ..; S_n-1] + sum s_i feeds the output layers.
        """
        position, history = state["position"], state["history"]
        n, k, channels = len(self.dilations), self.kernel_size, self.residual_channels
        read, write = ring_buffer_slots(position, k, self.dilations)
        past = tf.reshape(tf.gather(history, read), [n, k - 1, -1, channels])  # [layers, taps, B, C]
        kernels = [self._weight(conv.kernel) for conv in self.dilated]  # [k, C, 2G] each
        # stacked whole so that XLA computes it once, outside the sampling loop
        past_kernels = tf.stack([kernel[: k - 1] for kernel in kernels])  # [layers, k-1, C, 2G]
        gates = tf.einsum("njbc,njcg->nbg", past, past_kernels)
        gates = gates + tf.stack([self._weight(conv.bias) for conv in self.dilated])[:, None, :]
        if "label_gates" in state:
            gates = gates + state["label_gates"]
        if "features" in state:
            frames = state["features"]
            local = tf.gather(frames, tf.minimum(position, tf.shape(frames)[1] - 1), axis=1)  # [B, C_local]
            projection = tf.concat([self._weight(p.kernel) for p in self.local_projections], axis=1)
            gates = gates + tf.transpose(tf.reshape(local @ projection, [-1, n, 2 * self.dilation_channels]),
                                         [1, 0, 2])
        x = tf.gather(self._weight(self.input_projection.kernel), tf.cast(x_prev, tf.int32))
        x = x * tf.cast(position > 0, self.compute_dtype) + self._weight(self.input_projection.bias)
        inputs, outputs = [], []
        for i in range(n):
            inputs.append(x)
            f, g = tf.split(x @ kernels[i][k - 1] + gates[i], 2, axis=-1)
            out = tf.tanh(f) * tf.sigmoid(g)
            outputs.append(out)
            if i < len(self.residual_projections):
                x = x + self.residual_projections[i](out)
        skip_kernel = tf.concat([self._weight(p.kernel) for p in self.skip_projections], axis=0)
        skip = tf.concat(outputs, axis=-1) @ skip_kernel + tf.add_n([self._weight(p.bias) for p in self.skip_projections])
        logits = tf.cast(self._output(skip), tf.float32)
        history = tf.tensor_scatter_nd_update(history, write[:, None], tf.stack(inputs))
        return logits, dict(state, history=history, position=position + 1)

    def _check_prefix(self, prefix, num_samples):
        """Audio prompt: codes [B, T0] kept exactly at the start of every sample."""
        prefix = checks.check_events(prefix, (None,), self.num_levels, name="prefix")
        if prefix.shape[0] != num_samples:
            raise ValueError(f"prefix has {prefix.shape[0]} examples but num_samples={num_samples}")
        return prefix

    def sample(self, num_samples, *, condition=None, seed=None, temperature=1.0, prefix=None, length=None,
               method="fast", features=None):
        """Draw int32 codes [num_samples, length]; ``prefix`` [B, T0] is a prompt kept exactly.

        ``features`` [B, F, C] (F * hop >= length) for a locally conditioned model; the
        shared sampler carries them as ``condition=dict(labels=..., features=...)``.
        """
        length = self.num_positions(length)
        if prefix is not None and np.shape(prefix)[-1] > length:
            raise ValueError(f"prefix has {np.shape(prefix)[-1]} samples but length={length}")
        if self.local_condition_channels is None:
            self._check_features(features, None, None)
        else:
            condition = {"labels": condition, "features": features}
        return super().sample(num_samples, condition=condition, seed=seed, temperature=temperature,
                              prefix=prefix, length=length, method=method)

    def _check_sample_condition(self, condition, num_samples, length):
        """Labels, or with local conditioning dict(labels, features) checked for the batch and length."""
        if self.local_condition_channels is None:
            return super()._check_sample_condition(condition, num_samples, length)
        labels = checks.check_condition(condition["labels"], self.num_classes, num_samples)
        return {"labels": labels, "features": self._check_features(condition["features"], num_samples, length)}

    def get_config(self):
        config = super().get_config()
        config.update(
            num_stacks=self.num_stacks, layers_per_stack=self.layers_per_stack,
            residual_channels=self.residual_channels, dilation_channels=self.dilation_channels,
            skip_channels=self.skip_channels, kernel_size=self.kernel_size, num_levels=self.num_levels,
            output=self.output_type, num_logistic_mix=self.num_logistic_mix, num_classes=self.num_classes,
            local_condition_channels=self.local_condition_channels,
            upsample_factors=None if self.upsample_factors is None else list(self.upsample_factors),
        )
        return config
