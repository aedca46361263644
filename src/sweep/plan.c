/* plan.c: not yet written */
typedef int placeholder_plan_t;
