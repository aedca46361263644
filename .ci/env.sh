# Sourced by the quick-start and test scripts: a Python that has Debian's
# h5py/numpy/matplotlib, and Open MPI settings for root and small machines.
ADVSWEEP_PY=""
for candidate in /usr/bin/python3 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import h5py, numpy, matplotlib' 2>/dev/null; then
    ADVSWEEP_PY=$(command -v "$candidate"); break
  fi
done
export ADVSWEEP_PY
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# Rank 0 only dispatches (and sleeps), so one rank more than the cores is fine.
export OMPI_MCA_rmaps_base_oversubscribe=1
