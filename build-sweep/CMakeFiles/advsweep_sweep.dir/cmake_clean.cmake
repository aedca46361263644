file(REMOVE_RECURSE
  "CMakeFiles/advsweep_sweep.dir/src/sweep/grid.c.o"
  "CMakeFiles/advsweep_sweep.dir/src/sweep/grid.c.o.d"
  "CMakeFiles/advsweep_sweep.dir/src/sweep/jobfile.c.o"
  "CMakeFiles/advsweep_sweep.dir/src/sweep/jobfile.c.o.d"
  "CMakeFiles/advsweep_sweep.dir/src/sweep/plan.c.o"
  "CMakeFiles/advsweep_sweep.dir/src/sweep/plan.c.o.d"
  "libadvsweep_sweep.a"
  "libadvsweep_sweep.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/advsweep_sweep.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
