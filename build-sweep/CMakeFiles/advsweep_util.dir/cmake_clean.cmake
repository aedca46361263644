file(REMOVE_RECURSE
  "CMakeFiles/advsweep_util.dir/src/util/common.c.o"
  "CMakeFiles/advsweep_util.dir/src/util/common.c.o.d"
  "CMakeFiles/advsweep_util.dir/src/util/config.c.o"
  "CMakeFiles/advsweep_util.dir/src/util/config.c.o.d"
  "CMakeFiles/advsweep_util.dir/src/util/rng.c.o"
  "CMakeFiles/advsweep_util.dir/src/util/rng.c.o.d"
  "libadvsweep_util.a"
  "libadvsweep_util.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/advsweep_util.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
