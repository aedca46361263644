/* store.c: not yet written */
typedef int placeholder_store_t;
