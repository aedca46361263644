file(REMOVE_RECURSE
  "CMakeFiles/advsweep_comm.dir/src/comm/comm.c.o"
  "CMakeFiles/advsweep_comm.dir/src/comm/comm.c.o.d"
  "CMakeFiles/advsweep_comm.dir/src/comm/run.c.o"
  "CMakeFiles/advsweep_comm.dir/src/comm/run.c.o.d"
  "CMakeFiles/advsweep_comm.dir/src/comm/signals.c.o"
  "CMakeFiles/advsweep_comm.dir/src/comm/signals.c.o.d"
  "libadvsweep_comm.a"
  "libadvsweep_comm.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/advsweep_comm.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
