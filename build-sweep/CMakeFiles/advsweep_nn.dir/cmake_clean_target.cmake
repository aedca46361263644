file(REMOVE_RECURSE
  "libadvsweep_nn.a"
)
