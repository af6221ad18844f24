"""``tfar zoo list|info|card|table``: browse the zoo without building a model; write an entry from a run."""

import json


def add_parser(commands):
    zoo_parser = commands.add_parser("zoo", help="list the zoo or show one entry",
                                     description="List the zoo entries or show one entry's record and card.")
    zoo_commands = zoo_parser.add_subparsers(dest="zoo_command", metavar="{list,info,card,table}")
    zoo_commands.add_parser("list", help="one line per entry", description="One line per zoo entry.")
    info = zoo_commands.add_parser("info", help="an entry's config, metrics and model card",
                                   description="Print an entry's record (JSON) and its model card.")
    info.add_argument("name", help="zoo entry name")
    card = zoo_commands.add_parser(
        "card", help="write a zoo entry (weights, config.json, MODEL_CARD.md, plots) from a run folder",
        description="Write zoo/NAME from a finished run: its best weights (chosen on validation data), the "
                    "measurements `tfar train` recorded and the test figure `tfar eval` wrote. Nothing is typed "
                    "by hand.",
    )
    card.add_argument("run", help="run folder written by `tfar train` and scored by `tfar eval`")
    card.add_argument("--name", required=True, help="zoo entry name, e.g. gated_pixelcnn")
    card.add_argument("--zoo-dir", default=None, help="folder of zoo entries (default: the package's zoo/)")
    table = zoo_commands.add_parser("table", help="the README's results table, from the entries' cards",
                                    description="Print the results table (markdown) of the image entries, or of "
                                                "the audio ones, from their config.json metrics.")
    table.add_argument("--audio", action="store_true", help="the audio entries")
    zoo_parser.set_defaults(func=run, zoo_command="list")


def run(args):
    from tfar import zoo

    if args.zoo_command == "card":
        return _card(args)
    if args.zoo_command == "table":
        print(zoo.results_table(audio=args.audio))
        return 0
    if args.zoo_command == "info":
        record = zoo.info(args.name)
        card = record.pop("model_card", None)
        print(json.dumps(record, indent=2))
        if card:
            print()
            print(card.rstrip())
        return 0
    for name in zoo.list_models():
        record = zoo.info(name)
        metrics = ", ".join(f"{k} {v}" for k, v in sorted((record.get("metrics") or {}).items()))
        trained = "weights" if record.get("weights") else "no weights yet"
        print(f"{name:<28} {record['class']:<18} {record.get('dataset', ''):<16} {trained}"
              + (f"  {metrics}" if metrics else ""))
    return 0


def _card(args):
    from importlib import resources

    from tfar import zoo
    from tfar.training.model_card import write_card

    zoo_dir = args.zoo_dir or str(resources.files(zoo.ENTRIES_PACKAGE))
    record = write_card(args.run, args.name, zoo_dir)
    figures = {k: v for k, v in record["metrics"].items() if k.startswith(("test", "validation", "embedded"))}
    print(f"wrote {zoo_dir}/{args.name}: {json.dumps(figures)}")
    return 0
