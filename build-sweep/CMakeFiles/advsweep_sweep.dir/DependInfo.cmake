
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/src/sweep/grid.c" "CMakeFiles/advsweep_sweep.dir/src/sweep/grid.c.o" "gcc" "CMakeFiles/advsweep_sweep.dir/src/sweep/grid.c.o.d"
  "/work/main/src/sweep/jobfile.c" "CMakeFiles/advsweep_sweep.dir/src/sweep/jobfile.c.o" "gcc" "CMakeFiles/advsweep_sweep.dir/src/sweep/jobfile.c.o.d"
  "/work/main/src/sweep/plan.c" "CMakeFiles/advsweep_sweep.dir/src/sweep/plan.c.o" "gcc" "CMakeFiles/advsweep_sweep.dir/src/sweep/plan.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build-sweep/CMakeFiles/advsweep_train.dir/DependInfo.cmake"
  "/work/main/build-sweep/CMakeFiles/advsweep_attack.dir/DependInfo.cmake"
  "/work/main/build-sweep/CMakeFiles/advsweep_data.dir/DependInfo.cmake"
  "/work/main/build-sweep/CMakeFiles/advsweep_nn.dir/DependInfo.cmake"
  "/work/main/build-sweep/CMakeFiles/advsweep_util.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
