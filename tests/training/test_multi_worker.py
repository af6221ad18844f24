"""MultiWorkerMirroredStrategy: 2 worker processes on 127.0.0.1, killed and resumed.

The first launch is slowed down and one worker is killed with SIGKILL once an epoch
has been backed up; the chief, left waiting on its dead peer, is stopped too. Both
restart on the same run folder and must resume from the chief's BackupAndRestore
backup: no completed epoch lost or repeated, both workers ending with identical
weights, equal to an uninterrupted one-device run on the same global batches. Only
the chief writes into the run folder; the other worker writes to a temporary folder.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "multi_worker_train.py")
EPOCHS = 3
TIMEOUT, GRACE = 300, 60  # seconds: a whole phase (about 30 s here), a worker alone after its peer ended


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def launch(run_dir, out_dir, delay=0.0):
    """Start worker 0 (the chief) and worker 1; returns [(process, log path, weights path)]."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        log, weights = out_dir / f"worker{index}.log", out_dir / f"worker{index}.npz"
        with open(log, "w") as f:
            process = subprocess.Popen([sys.executable, WORKER, str(run_dir), str(weights), str(EPOCHS), str(delay)],
                                       stdout=f, stderr=subprocess.STDOUT, env=env)
        workers.append((process, log, weights))
    return workers


def events(log):
    with open(log) as f:
        return [json.loads(line) for line in f if line.startswith('{"event"')]


def backed_up_epochs(run_dir):
    path = run_dir / "backup" / "training_metadata.json"
    try:
        return json.loads(path.read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def stop(workers):
    for process, _, _ in workers:
        if process.poll() is None:
            process.kill()
        process.wait()


def tail(log):
    """The end of a worker's log without TensorFlow's start-up chatter."""
    with open(log) as f:
        lines = [line for line in f if not line.startswith(("I0000", "W0000", "WARNING: All log messages"))]
    return f"--- {log}\n" + "".join(lines)[-3000:]


def wait_all(workers, timeout=TIMEOUT, grace=GRACE):
    """Wait for every worker to finish; fail at once on a crash, soon on a worker left waiting alone.

    A worker whose peer has finished can only be blocked in a collective op (the two took a
    different number of steps, e.g. resumed at different epochs), so it fails after ``grace``.
    """
    deadline, first_done = time.monotonic() + timeout, None
    while True:
        codes = [process.poll() for process, _, _ in workers]
        logs = lambda: "\n".join(tail(log) for _, log, _ in workers)  # noqa: E731 (read on failure only)
        assert all(code in (None, 0) for code in codes), f"a worker failed: {codes}\n{logs()}"
        if all(code == 0 for code in codes):
            return
        if first_done is None and 0 in codes:
            first_done = time.monotonic()
        assert first_done is None or time.monotonic() < first_done + grace, (
            f"a worker still running {grace} s after its peer finished (stuck in a collective?)\n{logs()}")
        assert time.monotonic() < deadline, f"workers not done within {timeout} s\n{logs()}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory):
    """Kill a 2-worker run after its first backed-up epoch, relaunch it; returns what the test checks."""
    run_dir, out_dir = tmp_path_factory.mktemp("run"), tmp_path_factory.mktemp("out")
    (out_dir / "first").mkdir()
    (out_dir / "second").mkdir()
    first = launch(run_dir, out_dir / "first", delay=0.5)
    try:
        deadline = time.monotonic() + TIMEOUT
        while backed_up_epochs(run_dir) < 1:
            ended = [log for process, log, _ in first if process.poll() is not None]
            assert not ended, "a worker ended before the kill\n" + "\n".join(tail(log) for log in ended)
            assert time.monotonic() < deadline, f"no epoch backed up within {TIMEOUT} s\n" + "\n".join(
                tail(log) for _, log, _ in first)
            time.sleep(0.2)
        first[1][0].send_signal(signal.SIGKILL)  # worker 1 dies mid-run
        first[1][0].wait()
    finally:
        stop(first)  # the chief would wait on its dead peer
    completed = backed_up_epochs(run_dir)
    second = launch(run_dir, out_dir / "second")
    try:
        wait_all(second)
    finally:
        stop(second)
    return {
        "run_dir": run_dir,
        "completed_before_kill": completed,
        "first_events": [events(log) for _, log, _ in first],
        "events": [events(log) for _, log, _ in second],
        "weights": [np.load(path) for _, _, path in second],
    }


def test_the_kill_landed_after_a_completed_epoch_and_before_the_end(resumed_run):
    assert 1 <= resumed_run["completed_before_kill"] < EPOCHS
    chief_first = resumed_run["first_events"][0]
    assert not any(e["event"] == "done" for e in chief_first)


def test_both_workers_resume_at_the_first_unfinished_epoch(resumed_run):
    completed = resumed_run["completed_before_kill"]
    for worker_events in resumed_run["events"]:
        begun = [e["epoch"] for e in worker_events if e["event"] == "epoch_begin"]
        assert begun == list(range(completed, EPOCHS)), worker_events


def test_history_has_every_epoch_once(resumed_run):
    lines = (resumed_run["run_dir"] / "history.csv").read_text().splitlines()
    epochs = [int(line.split(",")[0]) for line in lines if line and not line.startswith("epoch")]
    assert epochs == list(range(EPOCHS))


def test_both_workers_end_with_identical_weights_equal_to_one_device(resumed_run):
    sys.path.insert(0, HERE)
    try:
        import multi_worker_train
    finally:
        sys.path.remove(HERE)
    chief, other = resumed_run["weights"]
    assert len(chief.files) == len(other.files) > 0
    for key in chief.files:
        np.testing.assert_array_equal(chief[key], other[key])
    model = multi_worker_train.build_model()  # uninterrupted, one device, same global batches
    model.fit(multi_worker_train.dataset(), epochs=EPOCHS, verbose=0, shuffle=False)
    for key, weight in zip(chief.files, model.weights):
        np.testing.assert_allclose(chief[key], weight.numpy(), atol=1e-5, err_msg=weight.path)


def test_only_the_chief_writes_into_the_run_folder(resumed_run):
    run_dir = resumed_run["run_dir"]
    chief_done, other_done = [next(e for e in worker if e["event"] == "done") for worker in resumed_run["events"]]
    assert chief_done["folder"] == str(run_dir)
    for name in ["checkpoints/last.weights.h5", "checkpoints/best.weights.h5", f"samples/epoch_{EPOCHS:03d}.png"]:
        assert (run_dir / name).is_file(), name
    assert any(name.startswith("logs/") for name in chief_done["files"])
    # the other worker ran the same callbacks into a temporary folder, removed when it finished
    assert not other_done["folder"].startswith(str(run_dir))
    assert {"checkpoints/last.weights.h5", f"samples/epoch_{EPOCHS:03d}.png"} <= set(other_done["files"])
    assert not os.path.exists(other_done["folder"])
