"""report.py and digits.py follow the option rules of every advsweep command (README, "Options"):
no option twice, no abbreviations, plain decimal numbers, a missing value never taken from the
next option; a bad option is one line `PROG: error: ...`, exit 2, nothing written."""
import gzip
import os
import subprocess
import sys

import h5py
import pytest

import synth
from synth import write_sweep

HERE = os.path.dirname(os.path.abspath(__file__))
ANALYSIS = os.path.join(HERE, "..", "..", "analysis")


def script(name, *args, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "ADVSWEEP_DEBUG"}
    return subprocess.run([sys.executable, os.path.join(ANALYSIS, name), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)


def one_line_error(proc, prog, needle):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{prog}: error: ") and needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr and "usage:" not in proc.stderr


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    write_sweep(d / "s.h5", synth.grid([8, 16, 32], [0.2, 0.1], [1, 2], lambda m, e, s: m >= 16))
    return d / "s.h5"


@pytest.mark.parametrize("args, needle", [
    (["-o", "{out}", "-o", "{out}2"], "option -o is given more than once (-o and --outdir are the same option)"),
    (["-o", "{out}", "--outdir={out}2"], "option --outdir is given more than once"),
    (["-o", "{out}", "--csv", "--csv"], "option --csv is given more than once"),
    (["-o", "{out}", "--fraction", "0.5", "--fraction=0.5"], "option --fraction is given more than once"),
    (["-o", "{out}", "--frac", "0.5"], "unknown option '--frac' (options are not abbreviated: did you mean --fraction?)"),
    (["-o", "{out}", "--out", "x"], "unknown option '--out' (options are not abbreviated: did you mean --outdir?)"),
    (["-o", "{out}", "--boot", "3"], "did you mean --bootstrap or --bootstrap-seed?"),
    (["-o", "{out}", "--nope"], "unknown option '--nope'"),
    (["-o", "{out}", "--fraction", " 0.5"], "--fraction: not a number: ' 0.5'"),
    (["-o", "{out}", "--fraction", "0.5 "], "--fraction: not a number"),
    (["-o", "{out}", "--fraction", "nan"], "--fraction: not a number: 'nan'"),
    (["-o", "{out}", "--fraction", "0x1"], "--fraction: not a number"),
    (["-o", "{out}", "--fraction", "1.5"], "--fraction: must be in (0, 1]"),
    (["-o", "{out}", "--bootstrap", " 8"], "--bootstrap: not a whole number: ' 8'"),
    (["-o", "{out}", "--bootstrap", "1e3"], "--bootstrap: not a whole number"),
    (["-o", "{out}", "--bootstrap", "1_000"], "--bootstrap: not a whole number"),
    (["-o", "{out}", "--bootstrap-seed", "٣"], "--bootstrap-seed: not a whole number"),   # an Arabic-Indic 3
    (["-o", "{out}", "--max-panels", "2.0"], "--max-panels: not a whole number"),
    (["-o", "{out}", "--max-panels", "-1"], "--max-panels: must be >= 0"),
    (["-o", "--csv"], "-o/--outdir: expected one argument"),
    (["--csv"], "required: -o/--outdir"),
])
def test_report_options(sweep, tmp_path, args, needle):
    out = tmp_path / "out"
    proc = script("report.py", sweep, *[a.format(out=out) for a in args])
    one_line_error(proc, "report.py", needle)
    assert not out.exists() and not (tmp_path / "out2").exists()


def test_report_options_that_are_fine(sweep, tmp_path):
    # --opt=value, -oVALUE, options before and after the files, `--` before a file named like an option
    proc = script("report.py", "--fraction=1", f"-o{tmp_path / 'a'}", sweep, "--bootstrap", "0", "--max-panels=2")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a" / "report.md").exists()
    (tmp_path / "-s.h5").write_bytes(sweep.read_bytes())
    proc = script("report.py", "-o", "b", "--bootstrap", "0", "--", "-s.h5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "b" / "report.md").exists()
    proc = script("report.py", "--help")
    assert proc.returncode == 0 and "--fraction" in proc.stdout


@pytest.fixture(scope="module")
def digits_csv(tmp_path_factory):
    """A stand-in for sklearn's digits.csv.gz: 60 rows of 64 pixels and a digit."""
    path = tmp_path_factory.mktemp("digits") / "digits.csv.gz"
    rows = [[(i * 7 + j) % 17 for j in range(64)] + [i % 10] for i in range(60)]
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    return path


@pytest.mark.parametrize("args, needle", [
    (["-o", "{out}", "-o", "{out}2", "--odd-even"], "option -o is given more than once (-o and --output are"),
    (["-o", "{out}", "--odd-even", "--odd-even"], "option --odd-even is given more than once"),
    (["-o", "{out}", "--odd-even", "--dim", "4", "--dim=8"], "option --dim is given more than once"),
    (["-o", "{out}", "--odd-even", "--per", "5"], "unknown option '--per' (options are not abbreviated: did you mean --per-class?)"),
    (["-o", "{out}", "--odd"], "did you mean --odd-even?"),
    (["-o", "{out}", "--odd-even", "--dim", " 4"], "--dim: not a whole number: ' 4'"),
    (["-o", "{out}", "--odd-even", "--per-class", "5.0"], "--per-class: not a whole number"),
    (["-o", "{out}", "--odd-even", "--seed", "0x10"], "--seed: not a whole number"),
    (["-o", "{out}", "--pair", " 4,9"], "--pair ' 4,9': expected two digits A,B"),
    (["-o", "{out}", "--pair", "4,9,1"], "expected two digits A,B"),
    (["-o", "{out}", "--pair", "4,9", "--odd-even"], "not allowed with argument"),
    (["-o", "--odd-even"], "-o/--output: expected one argument"),
])
def test_digits_options(digits_csv, tmp_path, args, needle):
    out = tmp_path / "d.h5"
    proc = script("digits.py", *[a.format(out=out) for a in args], "--source", digits_csv)
    one_line_error(proc, "digits.py", needle)
    assert not out.exists() and not (tmp_path / "d.h52").exists()


def test_digits_options_that_are_fine(digits_csv, tmp_path):
    proc = script("digits.py", f"-o{tmp_path / 'a.h5'}", "--pair=4,9", "--dim=4", "--seed", "3", "--per-class", "3",
                  f"--source={digits_csv}")
    assert proc.returncode == 0, proc.stderr
    with h5py.File(tmp_path / "a.h5", "r") as f:
        assert f["x"].shape == (6, 4)
