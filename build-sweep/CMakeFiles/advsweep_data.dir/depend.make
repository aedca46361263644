# Empty dependencies file for advsweep_data.
# This may be replaced when dependencies are built.
