"""Subcommands of the ``deconstruct`` command line.

A subcommand is recognised only as the first argument (``deconstruct fetch demucs:htdemucs_ft``); anything else is
the main form ``deconstruct SONG -o OUT``, so a song file named like a subcommand is given as ``./serve``. Each
entry names the module whose ``main(argv) -> int`` runs it, imported only when called (a fast start).
"""

from __future__ import annotations

import importlib
import sys

from deconstruct.errors import DeconstructError

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "fetch": ("deconstruct.commands.fetch", "download published separation models ahead of time "
                                            "(deconstruct fetch demucs:htdemucs_ft)"),
}


def help_text() -> str:
    """The subcommand list for ``deconstruct --help``."""
    lines = ["subcommands (first argument only; a song file of the same name is given as ./NAME):"]
    lines += [f"  deconstruct {name:<8} {about}" for name, (_, about) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def dispatch(argv: list[str]) -> int | None:
    """Run the subcommand ``argv[0]`` names and return its exit code; ``None`` when ``argv`` is the main form.

    Project errors print one line and exit with their code, as the main form does.
    """
    if not argv or argv[0] not in SUBCOMMANDS:
        return None
    name = argv[0]
    module = importlib.import_module(SUBCOMMANDS[name][0])
    try:
        return int(module.main(argv[1:]))
    except DeconstructError as error:
        print(f"deconstruct {name}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"deconstruct {name}: interrupted", file=sys.stderr)
        return 130
