# CMake generated Testfile for 
# Source directory: /work/main/tests
# Build directory: /work/main/build-sweep/tests
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test([=[test_config]=] "/work/main/build-sweep/tests/test_config")
set_tests_properties([=[test_config]=] PROPERTIES  ENVIRONMENT "OMP_NUM_THREADS=2" LABELS "unit" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;10;add_test;/work/main/tests/CMakeLists.txt;14;advsweep_unit_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[test_nn]=] "/work/main/build-sweep/tests/test_nn")
set_tests_properties([=[test_nn]=] PROPERTIES  ENVIRONMENT "OMP_NUM_THREADS=2" LABELS "unit" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;10;add_test;/work/main/tests/CMakeLists.txt;15;advsweep_unit_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[test_attack]=] "/work/main/build-sweep/tests/test_attack")
set_tests_properties([=[test_attack]=] PROPERTIES  ENVIRONMENT "OMP_NUM_THREADS=2" LABELS "unit" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;10;add_test;/work/main/tests/CMakeLists.txt;16;advsweep_unit_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[test_data]=] "/work/main/build-sweep/tests/test_data")
set_tests_properties([=[test_data]=] PROPERTIES  ENVIRONMENT "OMP_NUM_THREADS=2" LABELS "unit" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;10;add_test;/work/main/tests/CMakeLists.txt;17;advsweep_unit_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[test_train]=] "/work/main/build-sweep/tests/test_train")
set_tests_properties([=[test_train]=] PROPERTIES  ENVIRONMENT "OMP_NUM_THREADS=2" LABELS "unit" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;10;add_test;/work/main/tests/CMakeLists.txt;18;advsweep_unit_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[test_sweep]=] "/work/main/build-sweep/tests/test_sweep")
set_tests_properties([=[test_sweep]=] PROPERTIES  ENVIRONMENT "OMP_NUM_THREADS=2" LABELS "unit" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;10;add_test;/work/main/tests/CMakeLists.txt;21;advsweep_unit_test;/work/main/tests/CMakeLists.txt;0;")
