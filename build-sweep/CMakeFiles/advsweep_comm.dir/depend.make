# Empty dependencies file for advsweep_comm.
# This may be replaced when dependencies are built.
