file(REMOVE_RECURSE
  "CMakeFiles/test_train.dir/test_train.c.o"
  "CMakeFiles/test_train.dir/test_train.c.o.d"
  "test_train"
  "test_train.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_train.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
