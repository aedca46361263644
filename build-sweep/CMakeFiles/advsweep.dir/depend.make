# Empty dependencies file for advsweep.
# This may be replaced when dependencies are built.
