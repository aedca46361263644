file(REMOVE_RECURSE
  "libadvsweep_train.a"
)
