/* jobfile.c: not yet written */
typedef int placeholder_jobfile_t;
