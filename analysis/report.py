#!/usr/bin/env python3
"""report.py — report on advsweep sweep files (see advsweep_analysis/report.py).

    analysis/report.py FILE.h5 [FILE.h5 ...] -o OUTDIR [--fraction F] [--csv]

Runs from any directory, as a script or as `/usr/bin/python3 analysis/report.py`.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    from advsweep_analysis.report import main
except ImportError as e:  # e.g. run by an interpreter without numpy/h5py/matplotlib
    print(f"report.py: error: {e} (use Debian's /usr/bin/python3 with python3-h5py, python3-numpy, "
          f"python3-matplotlib)", file=sys.stderr)
    sys.exit(2)

if __name__ == "__main__":
    sys.exit(main())
