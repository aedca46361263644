# Included by tests/CMakeLists.txt in the ordinary (gcc) build.
#
# The fuzz targets need clang's libFuzzer and sanitizer runtimes (Debian:
# clang-14 and libclang-rt-14-dev, in .ci/deps). When a probe program links
# with -fsanitize=fuzzer,address,undefined, the same sources are configured a
# second time with clang and ADVSWEEP_FUZZ=ON in BUILD/fuzz (an ExternalProject,
# rebuilt with the main build), and ctest runs each target for
# ADVSWEEP_FUZZ_SECONDS over its committed corpus (label fuzz). Without the
# toolchain the tests exit 77 and ctest reports them as skipped.

set(ADVSWEEP_FUZZ_SECONDS 25 CACHE STRING "Seconds each fuzz target runs under ctest")
find_program(ADVSWEEP_FUZZ_CC NAMES clang-14 clang)

set(fuzz_toolchain FALSE)
if(ADVSWEEP_FUZZ_CC)
  set(probe_dir ${CMAKE_CURRENT_BINARY_DIR}/fuzz-probe)
  file(MAKE_DIRECTORY ${probe_dir})
  file(WRITE ${probe_dir}/probe.c
    "#include <stddef.h>\n#include <stdint.h>\n"
    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return d && n > 1 && d[0] == 'x'; }\n")
  execute_process(COMMAND ${ADVSWEEP_FUZZ_CC} -fsanitize=fuzzer,address,undefined probe.c -o probe
    WORKING_DIRECTORY ${probe_dir} RESULT_VARIABLE probe_rc OUTPUT_QUIET ERROR_QUIET)
  if(probe_rc EQUAL 0)
    set(fuzz_toolchain TRUE)
  endif()
endif()

set(fuzz_bin_dir "")
if(fuzz_toolchain)
  message(STATUS "fuzz targets: ${ADVSWEEP_FUZZ_CC} with libFuzzer (BUILD/fuzz)")
  include(ExternalProject)
  # $(MAKE) shares the parent make's job slots (cmake --build would run -j1 and warn).
  if(CMAKE_GENERATOR MATCHES "Makefiles")
    set(fuzz_build $(MAKE) fuzz_jobfile fuzz_sweepfile)
  else()
    set(fuzz_build ${CMAKE_COMMAND} --build <BINARY_DIR> --target fuzz_jobfile fuzz_sweepfile)
  endif()
  ExternalProject_Add(advsweep_fuzz
    SOURCE_DIR ${PROJECT_SOURCE_DIR}
    BINARY_DIR ${CMAKE_BINARY_DIR}/fuzz
    CMAKE_ARGS -DCMAKE_C_COMPILER=${ADVSWEEP_FUZZ_CC} -DCMAKE_BUILD_TYPE=RelWithDebInfo
               -DADVSWEEP_FUZZ=ON -DADVSWEEP_TESTS=OFF -DADVSWEEP_WERROR=OFF
    BUILD_COMMAND ${fuzz_build}
    INSTALL_COMMAND ""
    BUILD_ALWAYS ON)
  set(fuzz_bin_dir ${CMAKE_BINARY_DIR}/fuzz/tests/fuzz)
else()
  message(STATUS "fuzz targets: skipped (no clang with libFuzzer; Debian: clang-14 libclang-rt-14-dev)")
endif()

foreach(target jobfile sweepfile)
  set(bin "")
  if(fuzz_bin_dir)
    set(bin ${fuzz_bin_dir}/fuzz_${target})
  endif()
  add_test(NAME fuzz_${target}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run.sh "${bin}" ${CMAKE_CURRENT_SOURCE_DIR}/fuzz ${target}
            ${ADVSWEEP_FUZZ_SECONDS})
  set_tests_properties(fuzz_${target} PROPERTIES LABELS fuzz TIMEOUT 300 SKIP_RETURN_CODE 77)
endforeach()
