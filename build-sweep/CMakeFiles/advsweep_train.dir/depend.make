# Empty dependencies file for advsweep_train.
# This may be replaced when dependencies are built.
