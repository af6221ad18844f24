"""What one position of the served ``sample`` loop runs: its ops counted, set against the served timings.

    nice -n 10 python bench/served_loop_anatomy.py            # every zoo entry, ~2 minutes
    nice -n 10 python bench/served_loop_anatomy.py --quick    # tiny untrained models, counts only

For every zoo entry (``--models`` to choose) the model is exported with ``tfar.export.saved_model``
and its saved_model.pb is read: from the ``sample`` signature's function the FunctionDefLibrary is
walked to the ``While`` of the position loop (tfar/export/served_sampling.py), and the nodes of its
``cond`` and ``body`` are counted, recursing into function calls (``PartitionedCall``,
``StatefulPartitionedCall``, a node naming a library function). Nested zero-or-one loops
(tfar/models/image_step.py ``updated_when``) and ``If`` branches (the larger one) run only at some
positions (a row start, every other pixel): their nodes are counted apart as ``conditional``.
``ops`` excludes Identity and NoOp (counted apart) and the call nodes, which the session inlines.
These are static counts of the graph as saved, before Grappler and before the session lowers the
loop into Enter/Merge/Switch/NextIteration nodes (about four per loop variable per iteration).

Against the served seconds per call of bench/results/served_sampling.json (and
served_sampling_vocoder.json): served and in-process microseconds per position, microseconds
per op (served microseconds per position / ops of every position: all the time put on the ops),
and the ops per position the served loop could afford at that cost to reach 0.5x in-process speed.

Checks of the per-op assumption: ``--check ENTRY`` (default gated_pixelcnn) runs the exported
``sample`` at batch 1 in the session loader TF Serving uses, timed (median of 3) and once traced
(FULL_TRACE step stats: every node the executor ran); ``--chain N ...`` (default 10 100 300) times
a plain-TF while loop of 784 iterations of N chained cheap ops (Mul and Sin in turn) on a [1, 16]
tensor (median of 3), the executor's own cost per op. ``--quick`` does neither.
"""

import argparse
import collections
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TIMINGS = ("served_sampling.json", "served_sampling_vocoder.json")
CALLS = {"PartitionedCall", "StatefulPartitionedCall"}
WHILES = {"While", "StatelessWhile"}
IFS = {"If", "StatelessIf"}
APART = ("Identity", "NoOp")


def served_sampling():
    """bench/served_sampling.py as a module (its TINY configurations and load_model)."""
    spec = importlib.util.spec_from_file_location("served_sampling", os.path.join(HERE, "served_sampling.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_meta_graph(export_dir):
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    return saved.meta_graphs[0]


def callee(node, lib):
    """The library function a call node runs, else None."""
    if node.op in CALLS:
        return node.attr["f"].func.name
    return node.op if node.op in lib else None


def tally(name, lib, every, conditional, calls):
    """Add the nodes one run of function ``name`` executes to ``every``; those of nested loop bodies
    and of the larger ``If`` branch (run at some positions only) to ``conditional``."""
    for node in lib[name].node_def:
        if callee(node, lib):
            calls[0] += 1
            tally(callee(node, lib), lib, every, conditional, calls)
        elif node.op in WHILES:
            every[node.op] += 1
            tally(node.attr["cond"].func.name, lib, every, conditional, calls)
            tally(node.attr["body"].func.name, lib, conditional, conditional, calls)
        elif node.op in IFS:
            every[node.op] += 1
            branches = []
            for key in ("then_branch", "else_branch"):
                branch = collections.Counter()
                tally(node.attr[key].func.name, lib, branch, branch, calls)
                branches.append(branch)
            conditional.update(max(branches, key=lambda c: sum(c.values())))
        else:
            every[node.op] += 1


def position_loops(name, lib):
    """The While nodes reachable from function ``name`` outside any loop (through calls and branches)."""
    found = []
    for node in lib[name].node_def:
        if node.op in WHILES:
            found.append(node)
        elif callee(node, lib):
            found += position_loops(callee(node, lib), lib)
        elif node.op in IFS:
            found += position_loops(node.attr["then_branch"].func.name, lib)
            found += position_loops(node.attr["else_branch"].func.name, lib)
    return found


def count_loop(export_dir, signature="sample"):
    """Static anatomy of one iteration of ``signature``'s position loop (the largest top-level While).

    Returns {"body", "loop_vars", "ops", "by_type", "identity_noop", "conditional_ops",
    "conditional_by_type", "calls"}: ``ops`` = sum(``by_type``), Identity and NoOp apart.
    """
    meta = read_meta_graph(export_dir)
    lib = {f.signature.name: f for f in meta.graph_def.library.function}
    output = next(iter(meta.signature_def[signature].outputs.values())).name.split(":")[0]
    top = next(n for n in meta.graph_def.node if n.name == output)
    best = None
    for loop in position_loops(callee(top, lib), lib):
        every, conditional, calls = collections.Counter(), collections.Counter(), [0]
        tally(loop.attr["cond"].func.name, lib, every, conditional, calls)
        tally(loop.attr["body"].func.name, lib, every, conditional, calls)
        if best is None or sum(every.values()) > sum(best[1].values()):
            best = loop, every, conditional, calls[0]
    loop, every, conditional, calls = best
    apart = {op: every.pop(op, 0) for op in APART}
    for op in APART:
        conditional.pop(op, None)
    return {"body": loop.attr["body"].func.name, "loop_vars": len(loop.attr["T"].list.type),
            "ops": sum(every.values()), "by_type": dict(every.most_common()), "identity_noop": apart,
            "conditional_ops": sum(conditional.values()), "conditional_by_type": dict(conditional.most_common()),
            "calls": calls}


def export(model, directory):
    import tfar

    return tfar.export.saved_model(model, directory, warmup=False)


def served_rows(name, model):
    """Timing rows of ``name`` from the served-sampling results, with positions per call."""
    from tfar.zoo import is_audio

    per_position = int(np.prod(model.position_shape))
    rows = []
    for file in TIMINGS:
        with open(os.path.join(HERE, "results", file)) as f:
            results = json.load(f)
        for row in results["models"].get(name, {}).values():
            positions = row["length"] // per_position if is_audio(model) else model.num_positions()
            rows.append({"source": file, "batch": row["batch"], "positions": positions, "served_s": row["served_s"],
                         "in_process_s": row["in_process_s"]})
    return rows


def per_op(anatomy, row):
    served_us = row["served_s"] / row["positions"] * 1e6
    in_process_us = row["in_process_s"] / row["positions"] * 1e6
    us_per_op = served_us / anatomy["ops"]
    return dict(row, served_us_per_position=served_us, in_process_us_per_position=in_process_us,
                us_per_op=us_per_op, affordable_ops_at_half=2 * in_process_us / us_per_op)


def feed_of(signature, model, batch, seed=7):
    feed = {"num_samples": batch, "seed": seed, "temperature": 1.0}
    if "condition" in signature.inputs:
        feed["condition"] = np.arange(batch, dtype=np.int32) % model.num_classes
    if set(signature.inputs) - set(feed):
        raise ValueError(f"--check runs image entries only; sample needs {sorted(set(signature.inputs) - set(feed))}")
    return {signature.inputs[k].name: v for k, v in feed.items()}


def check(model, export_dir, batch=1, runs=3):
    """The exported sample at ``batch`` in a session: median wall seconds, and the nodes run, traced once."""
    import tensorflow as tf
    from tensorflow.core.protobuf import config_pb2

    graph = tf.Graph()
    with tf.compat.v1.Session(graph=graph) as session:
        with graph.as_default():
            meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], export_dir)
        signature = meta.signature_def["sample"]
        feed, fetch = feed_of(signature, model, batch), signature.outputs["samples"].name
        session.run(fetch, feed)  # warm: Grappler, first allocations
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            session.run(fetch, feed)
            times.append(time.perf_counter() - start)
        metadata = config_pb2.RunMetadata()
        session.run(fetch, feed, options=config_pb2.RunOptions(trace_level=config_pb2.RunOptions.FULL_TRACE),
                    run_metadata=metadata)
    ran = collections.Counter(n.timeline_label.split(" = ")[-1].split("(")[0] for d in metadata.step_stats.dev_stats
                              for n in d.node_stats)
    positions = model.num_positions()
    nodes = sum(ran.values())
    served_s = statistics.median(times)
    return {"batch": batch, "positions": positions, "served_s": served_s, "served_s_runs": times,
            "nodes_run": nodes, "nodes_per_position": nodes / positions,
            "nodes_per_position_by_type": {k: v / positions for k, v in ran.most_common()},
            "us_per_node": served_s / nodes * 1e6}


def chain_loop(ops, iterations=784, runs=3):
    """Median seconds of a plain-TF while loop of ``iterations`` trips of ``ops`` chained cheap ops, in a session."""
    import tensorflow as tf
    from tensorflow.core.protobuf import config_pb2

    graph = tf.Graph()
    with graph.as_default():
        start_value = tf.compat.v1.placeholder(tf.float32, [1, 16])
        scale = tf.compat.v1.placeholder(tf.float32, [1, 16])

        def body(i, x):  # Sin and Mul in turn: Grappler fuses a chain of unary ops into one node
            for k in range(ops):
                x = tf.sin(x) if k % 2 else x * scale
            return i + 1, x

        _, out = tf.while_loop(lambda i, x: i < iterations, body, (tf.constant(0), start_value))
    with tf.compat.v1.Session(graph=graph) as session:
        feed = {start_value: np.ones([1, 16], np.float32), scale: np.full([1, 16], 0.5, np.float32)}
        metadata = config_pb2.RunMetadata()
        session.run(out, feed, options=config_pb2.RunOptions(output_partition_graphs=True), run_metadata=metadata)
        left = sum(n.op in ("Sin", "Mul") for g in metadata.partition_graphs for n in g.node)
        assert left == ops, f"Grappler left {left} of {ops} chained ops"
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            session.run(out, feed)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def executor_cost(chain, iterations=784):
    rows = [{"ops": n, "seconds": chain_loop(n, iterations)} for n in chain]
    for row in rows:
        row["us_per_op"] = row["seconds"] / (iterations * row["ops"]) * 1e6
    first, last = rows[0], rows[-1]
    slope = (last["seconds"] - first["seconds"]) / (iterations * (last["ops"] - first["ops"])) * 1e6
    return {"iterations": iterations, "rows": rows, "marginal_us_per_op": slope}


def markdown(results):
    lines = ["# The served `sample` loop, op by op", "", f"Command: `{results['command']}`", "",
             "Static counts of one iteration of the exported `sample` signature's position loop "
             "(saved_model.pb, before Grappler and before the session lowers the loop); see the docstring of "
             "bench/served_loop_anatomy.py. ops: every position, Identity/NoOp apart; +cond.: ops of nested "
             "zero-or-one loops and the larger `If` branch, run at some positions only (row starts, every other "
             "pixel). Timings: medians from the files named. µs/op = served µs/position / ops (all the time put "
             "on the ops); ops for 0.5x = ops per position the served loop could afford at that µs/op to run at "
             "half in-process speed.", "",
             "| entry | batch | timings | ops/iter | +cond. | Identity/NoOp | loop vars | positions | served µs/pos "
             "| in-process µs/pos | µs/op | ops for 0.5x |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, entry in results["models"].items():
        a = entry["anatomy"]
        apart = sum(a["identity_noop"].values())
        for row in entry["timings"] or [{}]:
            cells = [name, row.get("batch", "-"), row.get("source", "-").replace(".json", ""), a["ops"],
                     a["conditional_ops"], apart, a["loop_vars"], row.get("positions", "-")]
            if row:
                cells += [f"{row['served_us_per_position']:.0f}", f"{row['in_process_us_per_position']:.1f}",
                          f"{row['us_per_op']:.2f}", f"{row['affordable_ops_at_half']:.0f}"]
            else:
                cells += ["-"] * 4
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", "Op types of every position (top 10):", "", "| entry | top 10 op types |", "| --- | --- |"]
    lines += [f"| {name} | " + ", ".join(f"{op} {n}" for op, n in list(e["anatomy"]["by_type"].items())[:10]) + " |"
              for name, e in results["models"].items()]
    c = results.get("check")
    if c:
        a = results["models"][c["entry"]]["anatomy"]
        top = ", ".join(f"{op} {n:.1f}" for op, n in list(c["nodes_per_position_by_type"].items())[:12])
        lines += ["", f"## Check: {c['entry']} at batch {c['batch']}, traced", "",
                  f"The exported `sample` in the session loader: {c['served_s']:.3f} s per call (median of "
                  f"{len(c['served_s_runs'])}), {c['positions']} positions. One FULL_TRACE run: the executor ran "
                  f"{c['nodes_run']:,} nodes, {c['nodes_per_position']:.0f} per position (static count: {a['ops']} "
                  f"ops + {sum(a['identity_noop'].values())} Identity/NoOp every position, +{a['conditional_ops']} "
                  f"conditional), so {c['us_per_node']:.2f} µs per node run. Per position: {top}."]
    e = results.get("executor")
    if e:
        lines += ["", "## Executor cost per op", "",
                  f"A plain-TF while loop of {e['iterations']} iterations of N chained ops (`Mul` and `Sin` in "
                  "turn) on a [1, 16] float tensor, in a session (default config, Grappler on; all N ops checked "
                  "to survive it), median of 3:", "",
                  "| N ops/iteration | seconds | µs per op |", "| ---: | ---: | ---: |"]
        lines += [f"| {r['ops']} | {r['seconds']:.3f} | {r['us_per_op']:.2f} |" for r in e["rows"]]
        lines += ["", f"Marginal cost (slope from N = {e['rows'][0]['ops']} to {e['rows'][-1]['ops']}): "
                  f"{e['marginal_us_per_op']:.2f} µs per op."]
        timings = results["models"][c["entry"]]["timings"] if c else []
        row = next((r for r in timings if r["batch"] == 1), None)
        if row:
            lines[-1] += (f" At that cost the {c['nodes_per_position']:.0f} nodes {c['entry']} runs per position take "
                          f"{c['nodes_per_position'] * e['marginal_us_per_op']:.0f} µs of executor overhead alone, "
                          f"against {2 * row['in_process_us_per_position']:.0f} µs per position for 0.5x in-process "
                          f"at batch 1 ({row['in_process_us_per_position']:.0f} µs in process).")
    lines += ["", f"Machine: {results['cpu_count']} CPUs, load average at start {results['loadavg_start']}, "
              f"at end {results['loadavg_end']}."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=None, help="zoo entries (default: all; quick: the TINY ones)")
    parser.add_argument("--quick", action="store_true", help="tiny untrained models, static counts only")
    parser.add_argument("--check", default=None, help="entry to run traced at batch 1 (default gated_pixelcnn; "
                                                      "'none' to skip; quick: none)")
    parser.add_argument("--chain", nargs="*", type=int, default=None, help="chained ops per iteration to time "
                                                                           "(default 10 100 300; quick: none)")
    parser.add_argument("--out", default=None, help="results stem under bench/results/ (default served_loop_anatomy;"
                                                    " quick: none)")
    args = parser.parse_args(argv)
    from tfar import zoo

    bench = served_sampling()
    names = args.models or [n for n in zoo.list_models() if n in bench.TINY or not args.quick]
    check_name = args.check or ("none" if args.quick else "gated_pixelcnn")
    chain = args.chain if args.chain is not None else ([] if args.quick else [10, 100, 300])
    out = args.out or (None if args.quick else "served_loop_anatomy")
    results = {"command": " ".join(["python", "bench/served_loop_anatomy.py", *(argv if argv is not None
                                                                                  else sys.argv[1:])]),
               "quick": args.quick, "cpu_count": os.cpu_count(),
               "loadavg_start": [round(x, 2) for x in os.getloadavg()], "models": {}}
    for name in names:
        model = bench.load_model(name, args.quick)
        with tempfile.TemporaryDirectory() as tmp:
            export_dir = export(model, os.path.join(tmp, "1"))
            anatomy = count_loop(export_dir)
            if name == check_name:
                results["check"] = dict(entry=name, **check(model, export_dir))
        timings = [] if args.quick else [per_op(anatomy, row) for row in served_rows(name, model)]
        results["models"][name] = {"anatomy": anatomy, "timings": timings}
        print(f"{name:26s} ops/iteration {anatomy['ops']:5d} (+{anatomy['conditional_ops']} conditional, "
              f"{sum(anatomy['identity_noop'].values())} Identity/NoOp, {anatomy['loop_vars']} loop vars)  "
              + "  ".join(f"b{r['batch']}: {r['us_per_op']:.2f} µs/op" for r in timings), flush=True)
    if chain:
        results["executor"] = executor_cost(chain)
        print("executor: " + ", ".join(f"N={r['ops']} {r['us_per_op']:.2f} µs/op" for r in results["executor"]["rows"])
              + f"; marginal {results['executor']['marginal_us_per_op']:.2f} µs/op", flush=True)
    results["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    if out:
        stem = os.path.join(HERE, "results", out)
        with open(stem + ".json", "w") as f:
            json.dump(results, f, indent=1)
        with open(stem + ".md", "w") as f:
            f.write(markdown(results))
    return results


if __name__ == "__main__":
    main()
