
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/src/store/data.c" "CMakeFiles/advsweep_store.dir/src/store/data.c.o" "gcc" "CMakeFiles/advsweep_store.dir/src/store/data.c.o.d"
  "/work/main/src/store/h5util.c" "CMakeFiles/advsweep_store.dir/src/store/h5util.c.o" "gcc" "CMakeFiles/advsweep_store.dir/src/store/h5util.c.o.d"
  "/work/main/src/store/load.c" "CMakeFiles/advsweep_store.dir/src/store/load.c.o" "gcc" "CMakeFiles/advsweep_store.dir/src/store/load.c.o.d"
  "/work/main/src/store/read.c" "CMakeFiles/advsweep_store.dir/src/store/read.c.o" "gcc" "CMakeFiles/advsweep_store.dir/src/store/read.c.o.d"
  "/work/main/src/store/store.c" "CMakeFiles/advsweep_store.dir/src/store/store.c.o" "gcc" "CMakeFiles/advsweep_store.dir/src/store/store.c.o.d"
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
