"""``tfar zoo list|info``: browse the zoo without building a model."""

import json


def add_parser(commands):
    zoo_parser = commands.add_parser("zoo", help="list the zoo or show one entry",
                                     description="List the zoo entries or show one entry's record and card.")
    zoo_commands = zoo_parser.add_subparsers(dest="zoo_command", metavar="{list,info}")
    zoo_commands.add_parser("list", help="one line per entry", description="One line per zoo entry.")
    info = zoo_commands.add_parser("info", help="an entry's config, metrics and model card",
                                   description="Print an entry's record (JSON) and its model card.")
    info.add_argument("name", help="zoo entry name")
    zoo_parser.set_defaults(func=run, zoo_command="list")


def run(args):
    from tfar import zoo

    if args.zoo_command == "info":
        record = zoo.info(args.name)
        card = record.pop("model_card", None)
        print(json.dumps(record, indent=2))
        if card:
            print()
            print(card.rstrip())
        return 0
    for name in zoo.list():
        record = zoo.info(name)
        metrics = ", ".join(f"{k} {v}" for k, v in sorted((record.get("metrics") or {}).items()))
        trained = "weights" if record.get("weights") else "no weights yet"
        print(f"{name:<28} {record['class']:<18} {record.get('dataset', ''):<16} {trained}"
              + (f"  {metrics}" if metrics else ""))
    return 0
