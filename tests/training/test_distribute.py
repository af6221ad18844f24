"""MirroredStrategy over 2 logical CPU devices trains every model exactly like one device.

The gradients of the replicas are summed, so each replica's loss must be its share of
the global batch mean; without that, N replicas move the weights N times as far.
The comparison runs in its own process (tests/training/distribute_check.py): logical
devices can only be configured before TensorFlow initialises, which this pytest
process has long done. Also: the strategy helpers' arithmetic and argument checks.
"""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from tfar.training import strategy as strategy_lib

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = ["PixelCNN", "GatedPixelCNN", "PixelCNNPlusPlus", "RowLSTM", "DiagonalBiLSTM", "WaveNet",
          "PixelCNN mixed_float16"]
# largest weight gap allowed, relative to how far the weights moved: summation order differs
# between one device and two replicas, float16 rounds more; a missing 1/replicas scale gives ~1
RELATIVE_GAP = {"PixelCNN mixed_float16": 1e-2}


@pytest.fixture(scope="module")
def comparison():
    """{model name: record} from one run of distribute_check.py over every model."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, os.path.join(HERE, "distribute_check.py")], capture_output=True,
                          text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {record["model"]: record for record in records}


@pytest.mark.parametrize("name", MODELS)
def test_two_replicas_take_the_same_sgd_steps_as_one_device(comparison, name):
    record = comparison[name]
    assert record["moved"] > 1e-4  # three steps moved the weights, so a scaling error would show
    assert record["gap"] <= RELATIVE_GAP.get(name, 1e-3) * record["moved"], record


@pytest.mark.parametrize("name", MODELS)
def test_the_policy_and_its_loss_scale_hold_under_both_strategies(comparison, name):
    float16 = name.endswith("mixed_float16")
    expected = {"optimizer": "LossScaleOptimizer" if float16 else "SGD",
                "compute_dtypes": ["float16" if float16 else "float32"]}
    assert comparison[name]["one_device_setup"] == comparison[name]["mirrored_setup"] == expected


@pytest.mark.parametrize("name", MODELS)
def test_two_replicas_report_the_same_loss_after_every_step(comparison, name):
    one, two = comparison[name]["one_device_step_losses"], comparison[name]["mirrored_step_losses"]
    assert len(one) == len(two) == 3
    assert two == pytest.approx(one, rel=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_two_replicas_evaluate_to_the_same_metrics(comparison, name):
    one, two = comparison[name]["one_device_eval"], comparison[name]["mirrored_eval"]
    assert set(one) == set(two) == {"loss", "bits_per_dim"}
    for key in one:
        assert two[key] == pytest.approx(one[key], rel=1e-5), (key, one, two)


def test_batch_sizes_global_and_per_replica():
    mirrored = strategy_lib.make_strategy("mirrored")  # this process: one CPU device
    replicas = mirrored.num_replicas_in_sync
    assert strategy_lib.global_batch_size(16, mirrored) == 16 * replicas
    assert strategy_lib.per_replica_batch_size(16 * replicas, mirrored) == 16
    with pytest.raises(ValueError, match="per_replica_batch_size"):
        strategy_lib.global_batch_size(0, mirrored)


def test_per_replica_batch_size_rejects_an_uneven_split():
    class TwoReplicas:
        num_replicas_in_sync = 2

    with pytest.raises(ValueError, match="global_batch_size=5 does not divide over 2 replicas"):
        strategy_lib.per_replica_batch_size(5, TwoReplicas())


def test_jit_compile_on_one_device_only():
    class TwoReplicas:
        num_replicas_in_sync = 2

    assert strategy_lib.jit_compile_setting(False, TwoReplicas()) == "auto"  # Keras decides
    assert strategy_lib.jit_compile_setting(True, strategy_lib.make_strategy("one_device")) is True
    with pytest.raises(ValueError, match="jit_compile with 2 replicas"):
        strategy_lib.jit_compile_setting(True, TwoReplicas())


@pytest.mark.parametrize("kind, value", [("strategy", "horovod"), ("precision", "float16")])
def test_unknown_names_are_rejected(kind, value):
    make = strategy_lib.make_strategy if kind == "strategy" else strategy_lib.set_precision
    with pytest.raises(ValueError, match=f"{kind} must be one of .* got '{value}'"):
        make(value)


def test_multi_worker_without_a_cluster_says_what_is_missing(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        strategy_lib.make_strategy("multi_worker")


def test_shard_sets_data_sharding():
    dataset = strategy_lib.shard(tf.data.Dataset.range(4))
    policy = dataset.options().experimental_distribute.auto_shard_policy
    assert policy == tf.data.experimental.AutoShardPolicy.DATA


@pytest.mark.parametrize("cluster, task, chief", [
    (None, None, True),
    ({"worker": ["a:1", "b:1"]}, {"type": "worker", "index": 0}, True),
    ({"worker": ["a:1", "b:1"]}, {"type": "worker", "index": 1}, False),
    ({"chief": ["a:1"], "worker": ["b:1"]}, {"type": "worker", "index": 0}, False),
    ({"chief": ["a:1"], "worker": ["b:1"]}, {"type": "chief", "index": 0}, True),
])
def test_chief_and_worker_folders(monkeypatch, tmp_path, cluster, task, chief):
    if cluster is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver() if cluster else None

    class InCluster:  # what a MultiWorkerMirroredStrategy exposes, without starting its servers
        cluster_resolver = resolver

    assert strategy_lib.is_chief(InCluster()) is chief
    run_dir = tmp_path / "run"
    (run_dir / "backup").mkdir(parents=True)
    (run_dir / "backup" / "training_metadata.json").write_text('{"epoch": 2}')
    (run_dir / "history.csv").write_text("epoch,loss\n0,1.0\n1,0.5\n")
    with strategy_lib.worker_run_dir(run_dir, InCluster()) as folder:
        if chief:
            assert folder == str(run_dir)
        else:  # a temporary folder seeded with the chief's resumable state
            assert not folder.startswith(str(run_dir))
            with open(os.path.join(folder, "backup", "training_metadata.json")) as f:
                assert json.load(f) == {"epoch": 2}
            with open(os.path.join(folder, "history.csv")) as f:
                assert f.read().endswith("1,0.5\n")
    assert os.path.isdir(run_dir) and (chief or not os.path.exists(folder))


CLI_ON_TWO_DEVICES = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tfar import cli
common, runs = sys.argv[1:-2], sys.argv[-2:]
for strategy, out in zip(["mirrored", "one_device"], runs):
    status = cli.main([*common, "--strategy", strategy, "--out", out])
    if status:
        sys.exit(status)
"""


def test_cli_train_mirrored_end_to_end_matches_one_device(tmp_path):
    from tfar.cli import train as train_cli
    from tfar.training import run as run_lib

    assert train_cli.STRATEGIES == strategy_lib.STRATEGIES and train_cli.PRECISIONS == strategy_lib.PRECISIONS
    args = ["train", "pixelcnn", "--data", "fashion_mnist", "--source", "embedded", "--limit", "16",
            "--val-limit", "8", "--batch-size", "8", "--steps-per-epoch", "2", "--epochs", "1", "--samples", "1",
            "--verbose", "0", "--set", "filters=4", "num_residual_blocks=1", "output_filters=4", "kernel_size=3"]
    mirrored, one_device = tmp_path / "mirrored", tmp_path / "one_device"
    done = subprocess.run([sys.executable, "-c", CLI_ON_TWO_DEVICES, *args, str(mirrored), str(one_device)],
                          capture_output=True, text=True, timeout=900, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    info = run_lib.read_run_info(mirrored)
    assert (info["strategy"], info["replicas"], info["precision"]) == ("mirrored", 2, "float32")
    assert run_lib.read_run_info(one_device)["replicas"] == 1
    assert (mirrored / "samples" / "epoch_001.png").is_file()
    # same data, same initialisation: the same losses (Adam's first steps are lr * sign(gradient), so
    # summation-order noise in near-zero gradients makes single weights differ by up to lr; the losses do not)
    histories = [(run / "history.csv").read_text().splitlines() for run in (mirrored, one_device)]
    rows = [dict(zip(lines[0].split(","), lines[1].split(","))) for lines in histories]
    for key in ("loss", "val_loss"):
        assert float(rows[0][key]) == pytest.approx(float(rows[1][key]), rel=1e-4), key
