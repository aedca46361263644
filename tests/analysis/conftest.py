"""Shared setup of the analysis tests: import paths, and running report.py as a subprocess."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ANALYSIS = os.path.join(ROOT, "analysis")
REPORT = os.path.join(ANALYSIS, "report.py")
for p in (ANALYSIS, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

os.environ.setdefault("MPLBACKEND", "Agg")


def run_report(*args, cwd=None):
    """Run analysis/report.py with this interpreter; return the CompletedProcess."""
    env = dict(os.environ)
    env.pop("ADVSWEEP_DEBUG", None)
    return subprocess.run([sys.executable, REPORT, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


@pytest.fixture
def report_cli():
    return run_report
