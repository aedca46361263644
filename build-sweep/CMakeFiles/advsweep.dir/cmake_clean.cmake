file(REMOVE_RECURSE
  "CMakeFiles/advsweep.dir/src/cli/cmd_bench.c.o"
  "CMakeFiles/advsweep.dir/src/cli/cmd_bench.c.o.d"
  "CMakeFiles/advsweep.dir/src/cli/cmd_merge.c.o"
  "CMakeFiles/advsweep.dir/src/cli/cmd_merge.c.o.d"
  "CMakeFiles/advsweep.dir/src/cli/cmd_plan.c.o"
  "CMakeFiles/advsweep.dir/src/cli/cmd_plan.c.o.d"
  "CMakeFiles/advsweep.dir/src/cli/cmd_run.c.o"
  "CMakeFiles/advsweep.dir/src/cli/cmd_run.c.o.d"
  "CMakeFiles/advsweep.dir/src/cli/cmd_status.c.o"
  "CMakeFiles/advsweep.dir/src/cli/cmd_status.c.o.d"
  "CMakeFiles/advsweep.dir/src/cli/cmd_train.c.o"
  "CMakeFiles/advsweep.dir/src/cli/cmd_train.c.o.d"
  "CMakeFiles/advsweep.dir/src/cli/main.c.o"
  "CMakeFiles/advsweep.dir/src/cli/main.c.o.d"
  "CMakeFiles/advsweep.dir/src/cli/options.c.o"
  "CMakeFiles/advsweep.dir/src/cli/options.c.o.d"
  "advsweep"
  "advsweep.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/advsweep.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
