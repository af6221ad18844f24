"""Import tfar source files as they were at a git revision, under private module names.

The anatomy benches time today's model against an older revision's in one process:
each listed file is read with ``git show REV:PATH``, saved as ``rev_<name>.py`` in a
temporary folder, its imports of the other listed files pointed at their ``rev_`` copies,
and its Keras registrations dropped (the registry keeps today's classes). Other tfar
modules are today's.
"""

import importlib
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def private_name(path):
    """The module name a file of the revision is imported under: tfar/models/x.py -> rev_x."""
    return "rev_" + os.path.basename(path)[:-3]


def import_at_revision(rev, paths, main):
    """The module of ``main`` (one of ``paths``) as of git revision ``rev``.

    A listed file missing at ``rev`` is skipped (nothing there imports it); ``main`` must exist.
    """
    directory = tempfile.mkdtemp(prefix="tfar_rev_")
    for path in paths:
        shown = subprocess.run(["git", "-C", ROOT, "show", f"{rev}:{path}"], capture_output=True, text=True)
        if shown.returncode:
            if path == main:
                raise ValueError(f"{main} does not exist at git revision {rev!r}: {shown.stderr.strip()}")
            continue
        source = shown.stdout
        for other in paths:
            source = source.replace(f"from {other[:-3].replace('/', '.')} import", f"from {private_name(other)} import")
        source = "\n".join(line for line in source.splitlines()
                           if not line.startswith("@keras.saving.register_keras_serializable"))
        with open(os.path.join(directory, private_name(path) + ".py"), "w") as f:
            f.write(source + "\n")
    sys.path.insert(0, directory)
    try:
        return importlib.import_module(private_name(main))
    finally:
        sys.path.remove(directory)
