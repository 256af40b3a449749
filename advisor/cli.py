"""Command-line entry point: ``tune-or-embed [COMMAND] …``.

Start-up stays fast: this module and every command's ``register`` import neither
torch, transformers nor textual; each command imports what it needs inside its
``run``. Errors a user can cause become one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from engines.errors import UserError

# Each name is a module advisor.commands.<name> with register(subparsers) that adds
# its parser and sets ``func`` to a callable(args) -> int.
COMMANDS = ["probe", "inspect", "profiles", "advise", "run", "compare", "predict", "search", "tui"]

PROG = "tune-or-embed"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fine-tune a transformer or use frozen embeddings? Measure it on your "
        "data and machine, forecast the full run, decide, then do it. "
        "With no command, opens the terminal UI.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"advisor.commands.{name}")
        except ModuleNotFoundError as exc:  # command not built yet
            if exc.name == f"advisor.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        args = parser.parse_args(["tui", *(argv or sys.argv[1:])])
    debug = args.debug or os.environ.get("TOE_DEBUG") == "1"
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        return _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return _fail("interrupted; nothing half-written was kept (runs resume with --resume)", 130)
    except MemoryError:
        return _fail("out of memory; try a smaller --sample, batch size or max length", 5)
    except OSError as exc:
        if debug:
            raise
        if exc.errno == errno.ENOSPC:
            return _fail(f"no space left on device{f' writing {exc.filename}' if exc.filename else ''}", 5)
        where = f": {exc.filename}" if exc.filename else ""
        return _fail(f"{exc.strerror or exc}{where}", 1)
    except BrokenPipeError:  # e.g. `tune-or-embed … | head`
        return 0
    except Exception as exc:  # a bug: still one line, traceback on request
        if debug:
            raise
        return _fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", 1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
