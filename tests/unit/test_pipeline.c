/*
 * test_pipeline.c - admission against the memory budget, in-flight counting
 * and draining (the parts of the pipeline that do not touch the store).
 */
#include "tl_test.h"

#include "pipeline/pipeline.h"

/* Admission never dereferences the store; any non-NULL pointer will do. */
static struct pipeline *make(uint64_t budget)
{
	struct pipeline_config c = {(struct store *)&c, NULL, budget};
	struct pipeline *p = NULL;
	pipeline_create(&c, &p);
	return p;
}

TEST(create_needs_store)
{
	struct pipeline_config c = {NULL, NULL, 100};
	struct pipeline *p = (struct pipeline *)1;
	CHECK_EQ_INT(pipeline_create(&c, &p), TL_EINVAL);
	CHECK(p == NULL);
}

TEST(budget_admit_charge_end)
{
	struct pipeline *p = make(1000);
	struct pipeline_ticket a, b, c;
	CHECK_EQ_INT(pipeline_admit(p, &a, 600), 0);
	CHECK_EQ_INT(pipeline_memory_in_use(p), 600);
	CHECK_EQ_INT(pipeline_admit(p, &b, 401), TL_EBUSY);
	CHECK_EQ_INT(b.open, 0);
	CHECK_EQ_INT(pipeline_admit(p, &b, 400), 0); /* exactly at the budget */
	CHECK_EQ_INT(pipeline_memory_in_use(p), 1000);
	CHECK_EQ_INT(pipeline_inflight(p), 2);
	CHECK_EQ_INT(pipeline_charge(p, &a, 1), TL_EBUSY);
	CHECK_EQ_INT(a.charged, 600); /* a failed charge leaves the earlier one */
	pipeline_end(p, &b);
	CHECK_EQ_INT(pipeline_memory_in_use(p), 600);
	CHECK_EQ_INT(pipeline_charge(p, &a, 300), 0);
	CHECK_EQ_INT(a.charged, 900);
	CHECK_EQ_INT(pipeline_admit(p, &c, 2000), TL_EBUSY); /* larger than the whole budget */
	pipeline_end(p, &a);
	pipeline_end(p, &a); /* ending twice is a no-op */
	CHECK_EQ_INT(pipeline_memory_in_use(p), 0);
	CHECK_EQ_INT(pipeline_inflight(p), 0);
	CHECK_EQ_INT(pipeline_memory_budget(p), 1000);
	pipeline_destroy(p);
}

TEST(drain_refuses_new_work)
{
	struct pipeline *p = make(1000);
	struct pipeline_ticket a, b;
	CHECK_EQ_INT(pipeline_admit(p, &a, 10), 0);
	CHECK_EQ_INT(pipeline_draining(p), 0);
	pipeline_begin_drain(p);
	CHECK_EQ_INT(pipeline_draining(p), 1);
	CHECK_EQ_INT(pipeline_admit(p, &b, 10), TL_ECLOSED);
	/* Work admitted before the drain still finishes. */
	CHECK_EQ_INT(pipeline_charge(p, &a, 10), 0);
	CHECK_EQ_INT(pipeline_inflight(p), 1);
	pipeline_end(p, &a);
	CHECK_EQ_INT(pipeline_inflight(p), 0);
	pipeline_destroy(p);
}

static const struct tl_test_case tests[] = {
    T(create_needs_store),
    T(budget_admit_charge_end),
    T(drain_refuses_new_work),
};

TEST_MAIN("pipeline", tests)
