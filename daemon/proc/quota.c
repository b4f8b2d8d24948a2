/*
 * quota.c - how many watches and guards each user holds, against --max-user-watches and
 * --max-user-guards. The daemon may serve every user of the node: without a bound per user,
 * one client looping over proc.watch of the same pid grows the daemon's memory without end,
 * and guards, which outlive their connections, would pile up for good. Root is not counted
 * (it can stop the daemon anyway); a limit of 0 means none. Entries exist only while their
 * user holds something, so the table is as large as the set of users with watches or guards.
 */
#include <errno.h>
#include <stdlib.h>

#include "proc_int.h"

struct quota {
	struct sku_hnode node; /* in pm->quotas, key = uid */
	uid_t uid;
	unsigned held[SKU_QUOTA__MAX];
};

static unsigned limit_of(const struct sku_procmod *pm, enum sku_quota_kind kind)
{
	const struct sku_config *cfg = &pm->srv->cfg;

	return kind == SKU_QUOTA_WATCH ? cfg->max_user_watches : cfg->max_user_guards;
}

/* Before the first take the table has no buckets, which sku_htab_first answers with NULL. */
static struct quota *find(const struct sku_procmod *pm, uid_t uid)
{
	for (struct sku_hnode *n = sku_htab_first(&pm->quotas, uid); n; n = sku_htab_next(n)) {
		struct quota *q = sku_container_of(n, struct quota, node);

		if (q->uid == uid)
			return q;
	}
	return NULL;
}

int sku_quota_take(struct sku_procmod *pm, uid_t uid, enum sku_quota_kind kind)
{
	unsigned limit = limit_of(pm, kind);
	struct quota *q;

	if (uid == 0 || limit == 0)
		return 0;
	q = find(pm, uid);
	if (q && q->held[kind] >= limit)
		return -EDQUOT;
	if (!q) {
		if (!pm->quotas.nbuckets && sku_htab_init(&pm->quotas, 16) < 0)
			return -ENOMEM;
		q = calloc(1, sizeof(*q));
		if (!q)
			return -ENOMEM;
		q->uid = uid;
		sku_htab_insert(&pm->quotas, &q->node, uid);
	}
	q->held[kind]++;
	return 0;
}

void sku_quota_give(struct sku_procmod *pm, uid_t uid, enum sku_quota_kind kind)
{
	struct quota *q = uid == 0 ? NULL : find(pm, uid);

	/* Not found: taken while the limit was 0 (root, or no limit), so never counted. */
	if (!q || !q->held[kind])
		return;
	q->held[kind]--;
	for (int k = 0; k < SKU_QUOTA__MAX; k++)
		if (q->held[k])
			return;
	sku_htab_remove(&pm->quotas, &q->node);
	free(q);
}

static void quota_free(struct sku_hnode *n)
{
	free(sku_container_of(n, struct quota, node));
}

void sku_quota_done(struct sku_procmod *pm)
{
	sku_htab_drain(&pm->quotas, quota_free);
}
