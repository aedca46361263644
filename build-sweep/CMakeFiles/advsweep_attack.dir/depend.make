# Empty dependencies file for advsweep_attack.
# This may be replaced when dependencies are built.
