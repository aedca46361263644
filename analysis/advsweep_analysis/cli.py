"""cli.py — the option rules of every advsweep command (README, "Options"), for the Python scripts.

    p = StrictParser(prog="report.py", description=...)
    p.add_argument("--fraction", type=real_arg)           # plain decimal, as the C side's adv_parse_real
    args = p.parse_args(argv)                              # bad input: one line, exit 2

The same rules as src/cli/options.c: `--opt value` and `--opt=value`; `-o value` and `-ovalue`;
options before, between or after the positional arguments;
no abbreviations (`--frac` is an unknown option, not --fraction); an option given twice is refused
(also as -o and --outdir); a missing value is never taken from the next option (`-o --csv`); `--`
ends the options; numbers are plain decimal with nothing around them (` 0.5`, `0x40`, `1_000`,
`nan` and `1e3` for an integer are refused). Every error is one line `PROG: error: ...` on stderr
and exit status 2; --help prints and exits 0.
"""
from __future__ import annotations

import argparse
import math
import re
import sys

# The grammar of adv_parse_int / adv_parse_real (src/util/common.c), ASCII digits only.
_INT = re.compile(r"[+-]?[0-9]+\Z")
_REAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")


def int_arg(text: str) -> int:
    """A whole number in plain decimal (`8`, `-1`), else argparse.ArgumentTypeError."""
    if not _INT.match(text):
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(text, 10)


def real_arg(text: str) -> float:
    """A real number in plain decimal (`0.5`, `1e-3`; no spaces, no inf/nan), else ArgumentTypeError."""
    if not _REAL.match(text):
        raise argparse.ArgumentTypeError(f"not a number: {text!r}")
    v = float(text)
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"out of range: {text!r}")
    return v


_LITERAL = "\x00"   # marks an argument after `--` while parsing (no command-line argument holds a NUL)


def _unmark(v):
    if isinstance(v, str):
        return v[len(_LITERAL):] if v.startswith(_LITERAL) else v
    if isinstance(v, list):
        return [_unmark(x) for x in v]
    return v


def _seen(parser, action, option_string):
    """Refuse a second occurrence of an option (under any of its names)."""
    if option_string is None:        # a positional
        return
    if action.dest in parser._strict_seen:
        names = action.option_strings
        same = f" ({' and '.join(names)} are the same option)" if len(names) > 1 else ""
        parser.error(f"option {option_string} is given more than once{same}")
    parser._strict_seen.add(action.dest)


class _Store(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        _seen(parser, self, option_string)
        setattr(namespace, self.dest, values)


class _StoreTrue(argparse.Action):
    def __init__(self, option_strings, dest, default=False, required=False, help=None):
        super().__init__(option_strings=option_strings, dest=dest, nargs=0, const=True, default=default,
                         required=required, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        _seen(parser, self, option_string)
        setattr(namespace, self.dest, True)


class StrictParser(argparse.ArgumentParser):
    """argparse with the advsweep option rules (module comment). Supports the actions store (the
    default) and store_true, which are the only ones the scripts use."""

    def __init__(self, *args, **kw):
        kw["allow_abbrev"] = False
        super().__init__(*args, **kw)
        self.register("action", None, _Store)
        self.register("action", "store", _Store)
        self.register("action", "store_true", _StoreTrue)
        self._strict_seen = set()

    def parse_known_args(self, args=None, namespace=None):
        self._strict_seen = set()
        return super().parse_known_args(args, namespace)

    def parse_args(self, args=None, namespace=None):
        argv = sys.argv[1:] if args is None else list(args)
        k = argv.index("--") if "--" in argv else len(argv)
        # an unknown long option is named first, before argparse says what else is missing (a
        # value never starts with "--": argparse takes it for the next option)
        known = {o for a in self._actions for o in a.option_strings}
        for a in argv[:k]:
            if a.startswith("--") and a.split("=", 1)[0] not in known:
                self.error(self._unknown(a))
        # argparse's intermixed parsing (options before or after the files) loses `--`: the
        # arguments after it are marked as literal instead, and unmarked once parsed.
        argv = argv[:k] + [_LITERAL + a for a in argv[k + 1:]]
        ns, extra = self.parse_known_intermixed_args(argv, namespace)
        if extra:
            self.error(self._unknown(extra[0]))
        for a in self._actions:
            if not a.option_strings and hasattr(ns, a.dest):
                setattr(ns, a.dest, _unmark(getattr(ns, a.dest)))
        return ns

    def _unknown(self, token: str) -> str:
        if token.startswith(_LITERAL):
            return f"unexpected argument {token[len(_LITERAL):]!r} (see {self.prog} --help)"
        if not token.startswith("-") or token == "-":
            return f"unexpected argument {token!r} (see {self.prog} --help)"
        name = token.split("=", 1)[0]
        longs = sorted(o for a in self._actions for o in a.option_strings if o.startswith("--"))
        close = [o for o in longs if name.startswith("--") and len(name) > 2 and o.startswith(name)]
        if close:
            return (f"unknown option {name!r} (options are not abbreviated: did you mean "
                    f"{' or '.join(close)}?)")
        return f"unknown option {name!r} (see {self.prog} --help)"

    def error(self, message):
        print(f"{self.prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
        sys.exit(2)
