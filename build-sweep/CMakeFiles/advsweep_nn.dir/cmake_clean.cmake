file(REMOVE_RECURSE
  "CMakeFiles/advsweep_nn.dir/src/nn/net.c.o"
  "CMakeFiles/advsweep_nn.dir/src/nn/net.c.o.d"
  "libadvsweep_nn.a"
  "libadvsweep_nn.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/advsweep_nn.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
