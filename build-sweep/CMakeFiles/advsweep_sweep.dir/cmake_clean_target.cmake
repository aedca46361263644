file(REMOVE_RECURSE
  "libadvsweep_sweep.a"
)
