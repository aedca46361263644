/* comm.c: not yet written */
typedef int placeholder_comm_t;
