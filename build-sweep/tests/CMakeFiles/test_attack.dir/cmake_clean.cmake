file(REMOVE_RECURSE
  "CMakeFiles/test_attack.dir/test_attack.c.o"
  "CMakeFiles/test_attack.dir/test_attack.c.o.d"
  "test_attack"
  "test_attack.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_attack.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
