
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/src/cli/cmd_bench.c" "CMakeFiles/advsweep.dir/src/cli/cmd_bench.c.o" "gcc" "CMakeFiles/advsweep.dir/src/cli/cmd_bench.c.o.d"
  "/work/main/src/cli/cmd_merge.c" "CMakeFiles/advsweep.dir/src/cli/cmd_merge.c.o" "gcc" "CMakeFiles/advsweep.dir/src/cli/cmd_merge.c.o.d"
  "/work/main/src/cli/cmd_plan.c" "CMakeFiles/advsweep.dir/src/cli/cmd_plan.c.o" "gcc" "CMakeFiles/advsweep.dir/src/cli/cmd_plan.c.o.d"
  "/work/main/src/cli/cmd_run.c" "CMakeFiles/advsweep.dir/src/cli/cmd_run.c.o" "gcc" "CMakeFiles/advsweep.dir/src/cli/cmd_run.c.o.d"
  "/work/main/src/cli/cmd_status.c" "CMakeFiles/advsweep.dir/src/cli/cmd_status.c.o" "gcc" "CMakeFiles/advsweep.dir/src/cli/cmd_status.c.o.d"
  "/work/main/src/cli/cmd_train.c" "CMakeFiles/advsweep.dir/src/cli/cmd_train.c.o" "gcc" "CMakeFiles/advsweep.dir/src/cli/cmd_train.c.o.d"
  "/work/main/src/cli/main.c" "CMakeFiles/advsweep.dir/src/cli/main.c.o" "gcc" "CMakeFiles/advsweep.dir/src/cli/main.c.o.d"
  "/work/main/src/cli/options.c" "CMakeFiles/advsweep.dir/src/cli/options.c.o" "gcc" "CMakeFiles/advsweep.dir/src/cli/options.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build-sweep/CMakeFiles/advsweep_comm.dir/DependInfo.cmake"
  "/work/main/build-sweep/CMakeFiles/advsweep_sweep.dir/DependInfo.cmake"
  "/work/main/build-sweep/CMakeFiles/advsweep_store.dir/DependInfo.cmake"
  "/work/main/build-sweep/CMakeFiles/advsweep_train.dir/DependInfo.cmake"
  "/work/main/build-sweep/CMakeFiles/advsweep_attack.dir/DependInfo.cmake"
  "/work/main/build-sweep/CMakeFiles/advsweep_data.dir/DependInfo.cmake"
  "/work/main/build-sweep/CMakeFiles/advsweep_nn.dir/DependInfo.cmake"
  "/work/main/build-sweep/CMakeFiles/advsweep_util.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
