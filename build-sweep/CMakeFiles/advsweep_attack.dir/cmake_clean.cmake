file(REMOVE_RECURSE
  "CMakeFiles/advsweep_attack.dir/src/attack/attack.c.o"
  "CMakeFiles/advsweep_attack.dir/src/attack/attack.c.o.d"
  "libadvsweep_attack.a"
  "libadvsweep_attack.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/advsweep_attack.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
