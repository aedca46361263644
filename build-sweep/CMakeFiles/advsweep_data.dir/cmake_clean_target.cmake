file(REMOVE_RECURSE
  "libadvsweep_data.a"
)
