# Empty compiler generated dependencies file for advsweep_store.
# This may be replaced when dependencies are built.
