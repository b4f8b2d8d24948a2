/* Placeholder until the proc module lands: no methods, nothing to set up. */
#include "sku_daemon.h"

const struct sku_method_table sku_proc_methods = {NULL, 0};

int sku_proc_init(struct sku_server *srv)
{
	(void)srv;
	return 0;
}

void sku_proc_done(struct sku_server *srv)
{
	(void)srv;
}
