file(REMOVE_RECURSE
  "libadvsweep_comm.a"
)
