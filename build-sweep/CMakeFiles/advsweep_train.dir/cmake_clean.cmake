file(REMOVE_RECURSE
  "CMakeFiles/advsweep_train.dir/src/train/bench.c.o"
  "CMakeFiles/advsweep_train.dir/src/train/bench.c.o.d"
  "CMakeFiles/advsweep_train.dir/src/train/train.c.o"
  "CMakeFiles/advsweep_train.dir/src/train/train.c.o.d"
  "libadvsweep_train.a"
  "libadvsweep_train.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/advsweep_train.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
