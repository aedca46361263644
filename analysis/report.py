#!/usr/bin/env python3
"""report.py — report on advsweep sweep files (see advsweep_analysis/report.py).

    analysis/report.py FILE.h5 [FILE.h5 ...] -o OUTDIR [--fraction F] [--csv]

Runs from any directory, as a script or as `/usr/bin/python3 analysis/report.py`.
When the first python3 on PATH lacks numpy/h5py/matplotlib (e.g. a pyenv
interpreter), it runs itself again with Debian's /usr/bin/python3.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DEBIAN_PYTHON = "/usr/bin/python3"

try:
    import h5py  # noqa: F401
    import numpy  # noqa: F401
    from advsweep_analysis.report import main
except ImportError as e:
    if (os.path.exists(DEBIAN_PYTHON) and not os.environ.get("ADVSWEEP_REEXEC")
            and os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON)):
        os.environ["ADVSWEEP_REEXEC"] = "1"
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    print(f"report.py: error: {e} (needs python3-h5py, python3-numpy and python3-matplotlib; "
          f"try {DEBIAN_PYTHON})", file=sys.stderr)
    sys.exit(2)

if __name__ == "__main__":
    sys.exit(main())
