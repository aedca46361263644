file(REMOVE_RECURSE
  "libadvsweep_util.a"
)
