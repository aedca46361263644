# Empty dependencies file for advsweep_util.
# This may be replaced when dependencies are built.
