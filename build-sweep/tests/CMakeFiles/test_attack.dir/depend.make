# Empty dependencies file for test_attack.
# This may be replaced when dependencies are built.
