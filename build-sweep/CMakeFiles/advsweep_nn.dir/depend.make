# Empty dependencies file for advsweep_nn.
# This may be replaced when dependencies are built.
