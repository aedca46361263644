# Empty compiler generated dependencies file for advsweep.
# This may be replaced when dependencies are built.
