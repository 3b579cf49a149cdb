/*
 * test_health_state.c - the damping state machine and the verdict.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conduit/probe.h"

static struct conduit_health_state
at(enum conduit_health h)
{
	struct conduit_health_state st = { h, HEALTH_UNKNOWN, 0 };
	return st;
}

static void
test_first_result_is_taken_directly(void **unused)
{
	struct conduit_health_state st = at(HEALTH_UNKNOWN);

	(void)unused;
	assert_true(conduit_health_step(&st, HEALTH_DOWN, 3, 3));
	assert_int_equal(st.current, HEALTH_DOWN);
	assert_int_equal(st.pending, HEALTH_UNKNOWN);
	assert_int_equal(st.streak, 0);
}

static void
test_unknown_observation_changes_nothing(void **unused)
{
	struct conduit_health_state st = at(HEALTH_UNKNOWN);

	(void)unused;
	assert_false(conduit_health_step(&st, HEALTH_UNKNOWN, 2, 2));
	assert_int_equal(st.current, HEALTH_UNKNOWN);
	st = at(HEALTH_HEALTHY);
	assert_false(conduit_health_step(&st, HEALTH_DOWN, 2, 2));
	assert_false(conduit_health_step(&st, HEALTH_UNKNOWN, 2, 2));
	assert_int_equal(st.current, HEALTH_HEALTHY);
	/* unknown is neither a pass nor a fail: the streak survives it */
	assert_int_equal(st.streak, 1);
}

static void
test_fails_needed_before_going_down(void **unused)
{
	struct conduit_health_state st = at(HEALTH_HEALTHY);

	(void)unused;
	assert_false(conduit_health_step(&st, HEALTH_DOWN, 2, 3));
	assert_false(conduit_health_step(&st, HEALTH_DOWN, 2, 3));
	assert_int_equal(st.current, HEALTH_HEALTHY);
	assert_int_equal(st.pending, HEALTH_DOWN);
	assert_int_equal(st.streak, 2);
	assert_true(conduit_health_step(&st, HEALTH_DOWN, 2, 3));
	assert_int_equal(st.current, HEALTH_DOWN);
	assert_int_equal(st.streak, 0);
	assert_int_equal(st.pending, HEALTH_UNKNOWN);
}

static void
test_equal_result_clears_streak(void **unused)
{
	struct conduit_health_state st = at(HEALTH_HEALTHY);

	(void)unused;
	assert_false(conduit_health_step(&st, HEALTH_DOWN, 2, 2));
	assert_false(conduit_health_step(&st, HEALTH_HEALTHY, 2, 2));
	assert_int_equal(st.streak, 0);
	assert_int_equal(st.pending, HEALTH_UNKNOWN);
	assert_false(conduit_health_step(&st, HEALTH_DOWN, 2, 2));
	assert_int_equal(st.current, HEALTH_HEALTHY);
}

static void
test_fails_of_different_depth_count_together(void **unused)
{
	struct conduit_health_state st = at(HEALTH_HEALTHY);

	(void)unused;
	assert_false(conduit_health_step(&st, HEALTH_DEGRADED, 2, 2));
	assert_true(conduit_health_step(&st, HEALTH_DOWN, 2, 2));
	/* the latest candidate wins */
	assert_int_equal(st.current, HEALTH_DOWN);
}

static void
test_recovery_through_degraded(void **unused)
{
	struct conduit_health_state st = at(HEALTH_DOWN);

	(void)unused;
	/* gateway still holds the upstream out: degraded, then healthy */
	assert_false(conduit_health_step(&st, HEALTH_DEGRADED, 2, 2));
	assert_true(conduit_health_step(&st, HEALTH_HEALTHY, 2, 2));
	assert_int_equal(st.current, HEALTH_HEALTHY);

	st = at(HEALTH_DOWN);
	assert_false(conduit_health_step(&st, HEALTH_DEGRADED, 2, 2));
	assert_true(conduit_health_step(&st, HEALTH_DEGRADED, 2, 2));
	assert_int_equal(st.current, HEALTH_DEGRADED);
	assert_false(conduit_health_step(&st, HEALTH_HEALTHY, 2, 2));
	assert_true(conduit_health_step(&st, HEALTH_HEALTHY, 2, 2));
	assert_int_equal(st.current, HEALTH_HEALTHY);
}

static void
test_direction_change_restarts_streak(void **unused)
{
	struct conduit_health_state st = at(HEALTH_DEGRADED);

	(void)unused;
	assert_false(conduit_health_step(&st, HEALTH_DOWN, 2, 2));
	assert_false(conduit_health_step(&st, HEALTH_HEALTHY, 2, 2));
	assert_int_equal(st.pending, HEALTH_HEALTHY);
	assert_int_equal(st.streak, 1);
	assert_true(conduit_health_step(&st, HEALTH_HEALTHY, 2, 2));
	assert_int_equal(st.current, HEALTH_HEALTHY);
}

static void
test_passes_and_fails_are_separate(void **unused)
{
	struct conduit_health_state st = at(HEALTH_HEALTHY);

	(void)unused;
	assert_true(conduit_health_step(&st, HEALTH_DOWN, 3, 1));
	assert_false(conduit_health_step(&st, HEALTH_HEALTHY, 3, 1));
	assert_false(conduit_health_step(&st, HEALTH_HEALTHY, 3, 1));
	assert_true(conduit_health_step(&st, HEALTH_HEALTHY, 3, 1));
}

static void
test_names_round_trip(void **unused)
{
	enum conduit_health h;
	const char *names[] = { "unknown", "down", "degraded", "healthy" };
	size_t i;

	(void)unused;
	for (i = 0; i < 4; i++) {
		assert_int_equal(conduit_health_parse(names[i], &h), 0);
		assert_string_equal(conduit_health_name(h), names[i]);
	}
	assert_int_equal(conduit_health_parse("", &h), -1);
	assert_int_equal(h, HEALTH_UNKNOWN);
	assert_int_equal(conduit_health_parse("Healthy", &h), -1);
}

static enum conduit_health
verdict(size_t up, size_t total, int gateway)	/* -1 none, 0 fail, 1 ok */
{
	struct conduit_probe ups[4];
	struct conduit_service_status st;

	memset(&st, 0, sizeof(st));
	memset(ups, 0, sizeof(ups));
	st.upstreams = ups;
	st.n_upstreams = total;
	st.upstreams_up = up;
	st.has_gateway = gateway >= 0;
	st.gateway.ok = gateway == 1;
	return conduit_probe_verdict(&st);
}

static void
test_verdict(void **unused)
{
	(void)unused;
	assert_int_equal(verdict(2, 2, 1), HEALTH_HEALTHY);
	assert_int_equal(verdict(1, 2, 1), HEALTH_DEGRADED);
	assert_int_equal(verdict(2, 2, 0), HEALTH_DEGRADED);
	assert_int_equal(verdict(0, 2, 0), HEALTH_DOWN);
	assert_int_equal(verdict(0, 1, 1), HEALTH_DEGRADED);
	assert_int_equal(verdict(1, 1, -1), HEALTH_HEALTHY);
	assert_int_equal(verdict(0, 1, -1), HEALTH_DOWN);
	assert_int_equal(verdict(0, 0, -1), HEALTH_UNKNOWN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_result_is_taken_directly),
		cmocka_unit_test(test_unknown_observation_changes_nothing),
		cmocka_unit_test(test_fails_needed_before_going_down),
		cmocka_unit_test(test_equal_result_clears_streak),
		cmocka_unit_test(test_fails_of_different_depth_count_together),
		cmocka_unit_test(test_recovery_through_degraded),
		cmocka_unit_test(test_direction_change_restarts_streak),
		cmocka_unit_test(test_passes_and_fails_are_separate),
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_verdict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
