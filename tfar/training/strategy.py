"""Training at scale: strategies by name, precision policies, data sharding, worker folders.

The same training code runs on one device, several GPUs, several machines or a TPU::

    strategy = make_strategy("mirrored")         # before any other TensorFlow work
    set_precision("mixed_bfloat16")               # before the model is built
    with strategy.scope():
        model = tfar.zoo.load("gated_pixelcnn", pretrained=False)
        model.compile(optimizer="adam")
    model.fit(shard(dataset))                     # dataset batched with the GLOBAL batch size

A dataset is batched with the global batch size: each step, tf.distribute splits the
global batch over the replicas (``per_replica = global / num_replicas_in_sync``), so
a run takes the same optimisation steps whatever the number of devices.

Multi-worker runs (one process per machine, the cluster in ``TF_CONFIG``) write
their outputs from the chief only; :func:`worker_run_dir` gives every other worker
a temporary folder seeded with the chief's resumable state, so all workers resume
from the chief's ``BackupAndRestore`` backup at the same epoch.
"""

import contextlib
import json
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from tfar.arg_checks import positive_int
from tfar.training import run as run_lib

STRATEGIES = ("one_device", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def _choice(kind, value, choices):
    if value not in choices:
        raise ValueError(f"{kind} must be one of {choices}, got {value!r}")
    return value


def local_devices():
    """Names of the local accelerators to replicate over: every GPU, else every (logical) CPU."""
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return [d.name for d in devices]


def make_strategy(name="one_device", tpu=None, cluster_resolver=None):
    """A ``tf.distribute.Strategy`` by name.

    one_device:   TensorFlow's default strategy: one device, the first GPU if there is
                  one, else the CPU (what a plain ``model.fit`` uses).
    mirrored:     synchronous data parallelism over every local GPU (every logical CPU
                  device when there is no GPU).
    multi_worker: synchronous data parallelism over the machines of ``TF_CONFIG`` (or of
                  ``cluster_resolver``), every local GPU of each; one process per machine.
    tpu:          the TPU ``tpu`` names ("" or None: the Colab/Cloud TPU VM's own); it is
                  connected and initialised here.

    Create the strategy at the start of the program, before other TensorFlow work:
    multi_worker must set up its collectives before any device is used.
    """
    _choice("strategy", name, STRATEGIES)
    if name == "one_device":
        if tf.distribute.has_strategy():
            raise ValueError("strategy='one_device' asked for inside another strategy's scope")
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(local_devices())
    if name == "multi_worker":
        if cluster_resolver is None and not os.environ.get("TF_CONFIG"):
            raise ValueError(
                "strategy='multi_worker' needs the cluster in the TF_CONFIG environment variable, e.g. "
                'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}\' on the first machine'
            )
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=cluster_resolver)
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
    except ValueError as error:
        raise ValueError(f"strategy='tpu': no TPU found (tpu={tpu!r}): {error}") from None
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def set_precision(name="float32"):
    """Set the global Keras dtype policy; returns it. Call before building the model.

    float32:        everything in float32.
    mixed_float16:  compute in float16, variables in float32, dynamic loss scaling
                    (``compile`` wraps the optimizer in a ``LossScaleOptimizer``). For
                    GPUs with tensor cores (compute capability >= 7.0).
    mixed_bfloat16: compute in bfloat16, variables in float32, no loss scaling needed.
                    For TPUs and GPUs from Ampere on.

    The likelihood heads, ``log_prob`` and sampling stay float32 under every policy.
    """
    keras.config.set_dtype_policy(_choice("precision", name, PRECISIONS))
    return keras.config.dtype_policy()


def jit_compile_setting(requested, strategy=None):
    """The ``jit_compile`` argument of ``model.compile``: True when XLA is requested, else "auto".

    XLA helps on GPUs (fused element-wise ops, fewer kernel launches); a TPU compiles
    every step anyway, and on a CPU it measured slower (bench/precision_step_time.py).
    It needs a step whose variables sit on one device: Keras 3 compiles the whole
    replicated step, which cannot reach the variables of another device, so several
    replicas are refused here with a ValueError rather than failing in the first step.
    """
    strategy = strategy or tf.distribute.get_strategy()
    if not requested:
        return "auto"
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "auto"  # the TPU strategy compiles with XLA itself
    if strategy.num_replicas_in_sync > 1:
        raise ValueError(
            f"jit_compile with {strategy.num_replicas_in_sync} replicas: Keras compiles the whole replicated step "
            "with XLA, which cannot reach another device's variables; use one device, or leave XLA off"
        )
    return True


def global_batch_size(per_replica_batch_size, strategy=None):
    """per-replica batch x replicas: the size to batch a dataset with."""
    strategy = strategy or tf.distribute.get_strategy()
    return positive_int("per_replica_batch_size", per_replica_batch_size) * strategy.num_replicas_in_sync


def per_replica_batch_size(global_batch_size, strategy=None):
    """The examples each replica gets from a global batch; ValueError when it does not divide evenly."""
    strategy = strategy or tf.distribute.get_strategy()
    size, replicas = positive_int("global_batch_size", global_batch_size), strategy.num_replicas_in_sync
    if size % replicas:
        raise ValueError(
            f"global_batch_size={size} does not divide over {replicas} replicas; use a multiple of {replicas}"
        )
    return size // replicas


def shard(dataset):
    """``dataset`` set to shard by data across workers: each worker keeps its part of every global batch.

    tf.distribute's default (AUTO) shards by input file when it can, which fails or
    skews when a dataset has fewer files than workers (TFDS MNIST has one); sharding
    by data works for any source. One machine: no effect.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def task(strategy=None):
    """(task type, task index) of this process in its cluster; (None, None) outside a cluster."""
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is not None and resolver.task_type is not None:
        return resolver.task_type, resolver.task_id
    config = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {})
    return config.get("type"), config.get("index")


def is_chief(strategy=None):
    """True for the process that writes a run's outputs.

    That is the "chief" task, else worker 0 of a cluster without a chief, else the
    only process of a run outside a cluster.
    """
    task_type, task_id = task(strategy)
    if task_type is None or task_type == "chief":
        return True
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
    return task_type == "worker" and int(task_id) == 0 and "chief" not in cluster


@contextlib.contextmanager
def worker_run_dir(run_dir, strategy=None):
    """The folder this process writes its run outputs to, as a context manager.

    The chief writes into ``run_dir``. Every other worker gets a temporary folder,
    deleted on exit, that starts as a copy of the chief's resumable state (the
    ``BackupAndRestore`` backup and the history): every worker must run the same
    callbacks, since saving weights reads the mirrored metric variables together, and
    they must all resume at the chief's epoch. ``run_dir`` must therefore be on a file
    system every worker can read (a shared disk or bucket).
    """
    run_dir = os.fspath(run_dir)
    if is_chief(strategy):
        yield run_dir
        return
    task_type, task_id = task(strategy)
    folder = tempfile.mkdtemp(prefix=f"tfar-{task_type}{task_id}-")
    try:
        backup = os.path.join(run_dir, run_lib.BACKUP)
        if os.path.isdir(backup):
            shutil.copytree(backup, os.path.join(folder, run_lib.BACKUP))
        history = os.path.join(run_dir, run_lib.HISTORY)
        if os.path.isfile(history):
            shutil.copy(history, os.path.join(folder, run_lib.HISTORY))
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


__all__ = [
    "PRECISIONS", "STRATEGIES", "global_batch_size", "is_chief", "jit_compile_setting", "local_devices", "make_strategy",
    "per_replica_batch_size", "set_precision", "shard", "task", "worker_run_dir",
]
