file(REMOVE_RECURSE
  "CMakeFiles/advsweep_data.dir/src/data/data.c.o"
  "CMakeFiles/advsweep_data.dir/src/data/data.c.o.d"
  "libadvsweep_data.a"
  "libadvsweep_data.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/advsweep_data.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
