"""A script that runs the CLI in a new process and reports which heavy libraries it imported
(test support for test_import_hygiene.py and test_compare.py)."""

HEAVY = ("torch", "transformers", "textual", "peft", "lancedb", "matplotlib", "ray")

SCRIPT = """
import contextlib, io, json, sys
from advisor.cli import main
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        code = main(sys.argv[1:])
except SystemExit as exc:  # --help exits
    code = exc.code
print(json.dumps({"code": code, "heavy": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)
