"""AutoregressiveModel: the contract every tfar model follows.

A model factorises ``p(x) = prod_t p(x_t | x_<t)`` over the positions of its event
(sub-pixels in raster order with R -> G -> B inside a pixel, or audio samples). Its
network maps the whole event to the parameters of every conditional in one pass
(teacher forcing), so ``log_prob`` is exact and training runs in parallel.
Generation runs the single-step graph ``step(x_prev, state)`` position by position.

Subclasses implement ``network(h, condition, training)`` on the float input of
``embed_input`` and return [batch, *spatial, channels * params_per_value]; they may
override ``initial_state``/``step`` with a cached fast path.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from tfar.arg_checks import checked_int, optional_positive_int, positive_int
from tfar.distributions import head_for
from tfar.distributions.noise import check_temperature
from tfar.models import checks

METHODS = ("fast", "naive", "parallel")


def _keras_reduces_on_axis_0(strategy):
    """True when Keras reduces a step's outputs with ``strategy.reduce(MEAN, v, axis=0)``.

    Keras 3 does so for a multi-worker strategy (``reduce_per_replica`` in its TensorFlow
    trainer), which fails on scalars with "Invalid reduction dimension 0 for input with 0
    dimensions"; the step then returns its figures with a batch axis of size 1.
    """
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode()


class AutoregressiveModel(keras.Model):
    """Base class: likelihood, training, sampling and input checks.

    Args:
      event_shape: shape of one example, e.g. (28, 28, 1) or (None,) for audio.
      num_levels: number of discrete values per position (256 or 2).
      num_classes: number of labels to condition on, or None.
    """

    def __init__(self, event_shape, num_levels=256, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        # sublayers built without dtype= take this global policy; build() hands them the model's
        self._default_policy_name = keras.config.dtype_policy().name
        self._event_shape = tuple(event_shape)
        self.num_levels = checked_int("num_levels", num_levels, "an int >= 2", lambda n: n >= 2)
        self.num_classes = optional_positive_int("num_classes", num_classes)
        self.head = head_for(self.num_levels)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.bpd_tracker = keras.metrics.Mean(name="bits_per_dim")

    # The fast sampler runs as one XLA-compiled loop (see tfar.sampling.loop), which updates the
    # step's caches in place; without XLA every scatter copies its buffer (PixelCNN++: 4.6x less
    # CPU time compiled, 4 images at the tfp bench config). A subclass may set it to False.
    sampling_jit_compile = True

    # ----------------------------------------------------------------- shapes
    @property
    def event_shape(self):
        return self._event_shape

    @property
    def receptive_field(self):
        return None

    @property
    def position_shape(self):
        """Shape of the values drawn at one position: () for one sub-pixel or sample."""
        return ()

    def num_positions(self, length=None):
        """Number of autoregressive positions of one event (``length`` for audio)."""
        size = int(np.prod([length if d is None else d for d in self.event_shape]))
        return size // int(np.prod(self.position_shape))

    def unflatten(self, flat):
        """[B, N] positions -> [B, *event_shape]."""
        return tf.reshape(flat, [tf.shape(flat)[0], *[-1 if d is None else d for d in self.event_shape]])

    def flatten_params(self, params):
        """[B, *event_shape, *suffix] -> [B, N, *suffix] (one entry per position)."""
        return tf.reshape(params, [tf.shape(params)[0], -1, *self.head.param_suffix])

    # ---------------------------------------------------------------- network
    def embed_input(self, x):
        """Integer levels -> network input: scaled to [-1, 1] in the compute dtype."""
        scale = 2.0 / (self.num_levels - 1)
        return tf.cast(x, self.compute_dtype) * scale - 1.0

    def network(self, h, condition=None, training=None):
        raise NotImplementedError

    def __call__(self, x, condition=None, **kwargs):
        if condition is not None and not isinstance(condition, (tf.Tensor, tf.Variable, dict)):
            condition = tf.convert_to_tensor(np.asarray(condition))
        return super().__call__(x, condition=condition, **kwargs)

    def call(self, x, condition=None, training=None):
        """Distribution parameters [batch, *positions, *param_suffix] (float32).

        Leading dims are the event's, less ``position_shape``: [B, H, W, C, L] for a
        softmax per sub-pixel, [B, H, W, P] for a per-pixel mixture, [B, T, L] for audio.
        """
        raw = self.network(self.embed_input(x), condition, training=training)
        # one parameter group per position: per sub-pixel / sample, or per pixel for (C,) positions
        leading = tf.shape(x)[: len(x.shape) - len(self.position_shape)]
        shape = tf.concat([leading, self.head.param_suffix], axis=0)
        return tf.reshape(tf.cast(raw, tf.float32), shape)

    def build(self, input_shape=None):
        """Create the weights by one forward pass on a dummy batch."""
        if self.built:
            return
        self._propagate_dtype_policy()
        shape = [1] + [16 if d is None else d for d in self.event_shape]
        condition = None if self.num_classes is None else tf.zeros([1], tf.int32)
        self.call(tf.zeros(shape, tf.int32), condition=condition)
        self.built = True

    def _propagate_dtype_policy(self):
        """Hand the model's dtype policy to every sublayer still on the global default.

        A Keras layer built without ``dtype=`` takes the global policy, so
        ``Model(dtype="mixed_bfloat16")`` would run its sublayers in float32. Before any
        weight exists, each sublayer whose policy is the global default of the model's
        construction takes the model's policy; a sublayer given another policy keeps it.
        The likelihood heads stay float32 whatever the policy: ``call`` casts the
        network's output to float32 before any head sees it.
        """
        policy = self.dtype_policy
        if policy.name == self._default_policy_name:
            return
        for layer in self._flatten_layers(include_self=False, recursive=True):
            if not layer.built and layer.dtype_policy.name == self._default_policy_name:
                layer.dtype_policy = policy

    def save(self, filepath, *args, **kwargs):
        """``keras.Model.save``, building the weights first so an unused model saves whole."""
        self.build()
        return super().save(filepath, *args, **kwargs)

    def get_build_config(self):
        return {"event_shape": list(self.event_shape)}

    def build_from_config(self, config):
        self.build()

    def data_dependent_init(self, x, condition=None):
        """Initialise parameters from a first real training batch; returns the number of
        layers initialised. Models without data-dependent initialisation build and return 0."""
        self.build()
        return 0

    # ------------------------------------------------------------- likelihood
    def _log_prob(self, x, condition, training=None):
        params = self(x, condition=condition, training=training)
        per_value = self.head.log_prob(params, x)
        return tf.reduce_sum(tf.reshape(per_value, [tf.shape(x)[0], -1]), axis=1)

    def _check(self, x, condition):
        x = checks.check_events(x, self.event_shape, self.num_levels)
        condition = checks.check_condition(condition, self.num_classes, x.shape[0])
        return x, condition

    def log_prob(self, x, condition=None, training=False):
        """log p(x) in nats, float32 [batch]; ``x`` integer levels [batch, *event_shape]."""
        x, condition = self._check(x, condition)
        return self._log_prob(x, condition, training=training)

    def bits_per_dim(self, x, condition=None):
        """-log2 p(x) / number of dimensions, float32 [batch]."""
        x, condition = self._check(x, condition)
        dims = tf.cast(tf.reduce_prod(tf.shape(x)[1:]), tf.float32)
        return -self._log_prob(x, condition) / (dims * math.log(2.0))

    # --------------------------------------------------------------- training
    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """Compile with the exact negative log-likelihood (nats per dimension) as loss.

        ``loss`` must stay None: the loss is the model's own likelihood. Bits/dim is
        reported as a metric.
        """
        if loss is not None:
            raise ValueError(f"loss={loss!r}: tfar models train on their exact NLL; leave loss=None")
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return None
        return {"optimizer": keras.optimizers.serialize(self.optimizer)}

    def compile_from_config(self, config):
        self.compile(optimizer=keras.optimizers.deserialize(config["optimizer"]))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        return [self.loss_tracker, self.bpd_tracker]

    def _unpack(self, data):
        x, condition, _ = keras.utils.unpack_x_y_sample_weight(data)
        return x, condition

    def _nll_per_dim(self, x, condition, training):
        """Negative log-likelihood of each example in nats per dimension, float32 [batch]."""
        dims = tf.cast(tf.reduce_prod(tf.shape(x)[1:]), tf.float32)
        return -self._log_prob(x, condition, training=training) / dims

    def _replica_loss(self, nll):
        """This replica's share of the mean of ``nll`` over the global batch.

        The optimizer sums the gradients of all replicas, so each one contributes
        sum(its nll) / (global batch size): the sum is the global batch mean for any
        split of the batch, uneven or empty replica batches included. (Keras's own
        trainer divides each replica's mean by the number of replicas, the same figure
        when the split is even.) Extra losses (``self.losses``) are the same on every
        replica and are divided by the number of replicas.
        """
        count = tf.cast(tf.shape(nll)[0], tf.float32)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            count = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, count)
        loss = tf.math.divide_no_nan(tf.reduce_sum(nll), count)
        if self.losses:
            loss += tf.add_n([tf.cast(extra, tf.float32) for extra in self.losses]) / replicas
        return loss

    def _update_metrics(self, nll):
        """Add the per-example ``nll`` to the loss and bits/dim means; their results so far.

        Each replica's metric holds the sums of its own examples; the sums are
        all-reduced, so every replica returns the figure over the global batches.
        """
        self.loss_tracker.update_state(nll)
        self.bpd_tracker.update_state(nll / math.log(2.0))
        # tf.identity places each read on this replica's device, where collective all-reduces need it
        sums = [[tf.identity(m.total), tf.identity(m.count)] for m in self.metrics]
        strategy = tf.distribute.get_strategy()
        if strategy.num_replicas_in_sync > 1:
            sums = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, sums)
        results = {m.name: tf.math.divide_no_nan(total, count) for m, (total, count) in zip(self.metrics, sums)}
        if _keras_reduces_on_axis_0(strategy):
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def train_step(self, data):
        x, condition = self._unpack(data)
        with tf.GradientTape() as tape:
            nll = self._nll_per_dim(x, condition, training=True)
            scaled = self.optimizer.scale_loss(self._replica_loss(nll))  # mixed_float16: x loss scale
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._update_metrics(nll)

    def test_step(self, data):
        x, condition = self._unpack(data)
        return self._update_metrics(self._nll_per_dim(x, condition, training=False))

    def _checked_input(self, x, y):
        if isinstance(x, tf.data.Dataset):
            return checks.checked_dataset(x, self.event_shape, self.num_levels, self.num_classes), None
        if isinstance(x, (np.ndarray, tf.Tensor, list)):
            x_checked, y = self._check(x, y)
            return x_checked.numpy(), None if y is None else y.numpy()
        return x, y

    def fit(self, x=None, y=None, validation_data=None, **kwargs):
        """``keras.Model.fit`` on x (or a dataset of x / (x, condition)), inputs checked first."""
        x, y = self._checked_input(x, y)
        if validation_data is not None:
            if isinstance(validation_data, tuple):
                validation_data = self._checked_input(*validation_data)
            else:
                validation_data = self._checked_input(validation_data, None)[0]
        try:
            return super().fit(x, y, validation_data=validation_data, **kwargs)
        except tf.errors.InvalidArgumentError as error:
            converted = checks.as_value_error(error)
            if converted is None:
                raise
            raise converted from None

    def evaluate(self, x=None, y=None, **kwargs):
        x, y = self._checked_input(x, y)
        try:
            return super().evaluate(x, y, **kwargs)
        except tf.errors.InvalidArgumentError as error:
            converted = checks.as_value_error(error)
            if converted is None:
                raise
            raise converted from None

    # --------------------------------------------------------------- sampling
    def initial_state(self, batch_size, condition=None):
        """Default state: the canvas of positions so far and the next position index."""
        n = self.num_positions()
        state = {
            "canvas": tf.zeros([batch_size, n, *self.position_shape], tf.int32),
            "position": tf.zeros([], tf.int32),
        }
        if self.num_classes is not None:
            state["condition"] = tf.cast(condition, tf.int32)
        return state

    def step(self, x_prev, state):
        """Write ``x_prev`` at position-1, return params at ``position`` and the new state.

        This default recomputes the whole network on the canvas (correct for any model);
        the image models override it with a cached step whose cost does not grow with the image.
        """
        canvas, position = self.write_canvas(state, x_prev), state["position"]
        current = tf.minimum(position, self.num_positions() - 1)
        params = self(self.unflatten(canvas), condition=state.get("condition"))
        params = tf.gather(self.flatten_params(params), current, axis=1)
        return params, dict(state, canvas=canvas, position=position + 1)

    def write_canvas(self, state, x_prev):
        """The state's canvas with ``x_prev`` written at ``position - 1`` (unchanged at position 0).

        One scatter of a single position: updated in place inside an XLA-compiled loop.
        """
        canvas, position = state["canvas"], state["position"]
        batch, index = tf.shape(canvas)[0], tf.maximum(position - 1, 0)
        old = tf.gather(canvas, index, axis=1)
        value = tf.where(position > 0, tf.cast(x_prev, canvas.dtype), old)
        indices = tf.stack([tf.range(batch), tf.fill([batch], index)], axis=1)
        return tf.tensor_scatter_nd_update(canvas, indices, value)

    def _seed(self, seed):
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        if isinstance(seed, (int, np.integer)):
            return tf.constant([int(seed), 0], tf.int32)
        seed = tf.cast(seed, tf.int32)
        if seed.shape != (2,):
            raise ValueError(f"seed must be an int or a shape-[2] tensor, got shape {tuple(seed.shape)}")
        return seed

    def _check_prefix(self, prefix, num_samples):
        """Image prefix: known top rows [B, rows, W, C] -> flat [B, rows*W*C]."""
        spatial = self.event_shape
        prefix = checks.check_events(prefix, (None, *spatial[1:]), self.num_levels, name="prefix")
        if prefix.shape[0] != num_samples:
            raise ValueError(f"prefix has {prefix.shape[0]} examples but num_samples={num_samples}")
        if prefix.shape[1] > spatial[0]:
            raise ValueError(f"prefix has {prefix.shape[1]} rows; the image has only {spatial[0]}")
        return tf.reshape(prefix, [num_samples, -1, *self.position_shape])

    def _check_sample_condition(self, condition, num_samples, length):
        """The checked condition the sampler hands to ``initial_state``/``call``: labels or None."""
        return checks.check_condition(condition, self.num_classes, num_samples)

    def sample(self, num_samples, *, condition=None, seed=None, temperature=1.0, prefix=None, length=None,
               method="fast"):
        """Draw int32 samples [num_samples, *event_shape] by ancestral sampling.

        condition: labels [num_samples] for a class-conditional model.
        temperature: logits are divided by it; 1.0 is the model's distribution.
        prefix: known leading positions kept exactly (image: top rows [B, rows, W, C]).
        method: "fast" runs ``step``; "naive" recomputes the network per position;
          "parallel" solves for all positions at once by Jacobi fixed-point iteration of
          the full network. All three give identical samples for the same seed.
        """
        from tfar.sampling import sample_fast, sample_naive, sample_parallel  # sampling sits above models

        self.build()

        num_samples = positive_int("num_samples", num_samples)
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        check_temperature(temperature)
        condition = self._check_sample_condition(condition, num_samples, length)
        prefix = None if prefix is None else self._check_prefix(prefix, num_samples)
        sampler = {"fast": sample_fast, "naive": sample_naive, "parallel": sample_parallel}[method]
        flat = sampler(self, num_samples, self._seed(seed), float(temperature), condition, prefix, length)
        return self.unflatten(flat)
