file(REMOVE_RECURSE
  "CMakeFiles/advsweep_store.dir/src/store/data.c.o"
  "CMakeFiles/advsweep_store.dir/src/store/data.c.o.d"
  "CMakeFiles/advsweep_store.dir/src/store/h5util.c.o"
  "CMakeFiles/advsweep_store.dir/src/store/h5util.c.o.d"
  "CMakeFiles/advsweep_store.dir/src/store/load.c.o"
  "CMakeFiles/advsweep_store.dir/src/store/load.c.o.d"
  "CMakeFiles/advsweep_store.dir/src/store/read.c.o"
  "CMakeFiles/advsweep_store.dir/src/store/read.c.o.d"
  "CMakeFiles/advsweep_store.dir/src/store/store.c.o"
  "CMakeFiles/advsweep_store.dir/src/store/store.c.o.d"
  "libadvsweep_store.a"
  "libadvsweep_store.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/advsweep_store.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
