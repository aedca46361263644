file(REMOVE_RECURSE
  "libadvsweep_attack.a"
)
