file(REMOVE_RECURSE
  "libadvsweep_store.a"
)
