/* signals.c: not yet written */
typedef int placeholder_signals_t;
