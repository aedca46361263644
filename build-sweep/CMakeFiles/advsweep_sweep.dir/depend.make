# Empty dependencies file for advsweep_sweep.
# This may be replaced when dependencies are built.
