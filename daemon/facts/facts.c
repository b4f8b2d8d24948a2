/* Placeholder until the facts module lands: no methods, nothing to set up. */
#include "sku_daemon.h"

const struct sku_method_table sku_facts_methods = {NULL, 0};

int sku_facts_init(struct sku_server *srv)
{
	(void)srv;
	return 0;
}

void sku_facts_done(struct sku_server *srv)
{
	(void)srv;
}
