
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/src/util/common.c" "CMakeFiles/advsweep_util.dir/src/util/common.c.o" "gcc" "CMakeFiles/advsweep_util.dir/src/util/common.c.o.d"
  "/work/main/src/util/config.c" "CMakeFiles/advsweep_util.dir/src/util/config.c.o" "gcc" "CMakeFiles/advsweep_util.dir/src/util/config.c.o.d"
  "/work/main/src/util/rng.c" "CMakeFiles/advsweep_util.dir/src/util/rng.c.o" "gcc" "CMakeFiles/advsweep_util.dir/src/util/rng.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
