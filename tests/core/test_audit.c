/*
 * test_audit.c - the audit validator against the public conformance
 * fixtures, and records conduit writes itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "conduit/audit.h"
#include "conduit/fsutil.h"

static void
test_conformance_fixtures(void **state)
{
	struct conduit_err err;
	const cJSON *fx, *f;
	char *text;
	cJSON *doc;
	int valid = 0, invalid = 0;

	(void)state;
	assert_int_equal(conduit_read_file(CONDUIT_SHARED_DIR
	    "/conformance/conduit-audit/audit-fixtures.json", &text, NULL, &err), 0);
	doc = cJSON_Parse(text);
	assert_non_null(doc);
	fx = cJSON_GetObjectItemCaseSensitive(doc, "fixtures");
	assert_true(cJSON_GetArraySize(fx) >= 17);
	cJSON_ArrayForEach(f, fx) {
		const cJSON *entry = cJSON_GetObjectItemCaseSensitive(f, "entry");
		bool want = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "valid"));
		const char *desc = cJSON_GetObjectItemCaseSensitive(f, "description")->valuestring;
		char *line = cJSON_PrintUnformatted(entry);
		int rc = conduit_audit_validate_line(line, &err);
		if ((rc == 0) != want)
			fail_msg("fixture \"%s\": validator said %s (%s)", desc,
			    rc == 0 ? "valid" : "invalid", rc ? err.msg : "");
		if (want)
			valid++;
		else
			invalid++;
		cJSON_free(line);
	}
	assert_int_equal(valid, 12);
	assert_int_equal(invalid, 5);
	cJSON_Delete(doc);
	free(text);
}

static void
test_rejects_more(void **state)
{
	struct conduit_err err;

	(void)state;
	/* Extra field, wrong types, empty user, multi-line. */
	assert_int_not_equal(conduit_audit_validate_line("{\"timestamp\":\"2026-01-01T00:00:00Z\","
	    "\"action\":\"a\",\"status\":\"success\",\"message\":\"\",\"user\":\"u\","
	    "\"details\":{},\"extra\":1}", &err), 0);
	assert_int_not_equal(conduit_audit_validate_line("{\"timestamp\":\"2026-01-01T00:00:00Z\","
	    "\"action\":\"a\",\"status\":\"success\",\"message\":\"\",\"user\":\"\","
	    "\"details\":{}}", &err), 0);
	assert_int_not_equal(conduit_audit_validate_line("{\"timestamp\":\"2026-01-01T00:00:00Z\","
	    "\"action\":\"a\",\"status\":\"success\",\"message\":\"\",\"user\":\"u\","
	    "\"details\":[]}", &err), 0);
	assert_int_not_equal(conduit_audit_validate_line("{\"timestamp\":\"2026-01-01T00:00:00+00:00\","
	    "\"action\":\"a\",\"status\":\"success\",\"message\":\"\",\"user\":\"u\","
	    "\"details\":{}}", &err), 0);
	assert_int_equal(conduit_audit_validate_line("{\"timestamp\":\"2026-01-01T00:00:00Z\","
	    "\"action\":\"a\",\"status\":\"failure\",\"message\":\"\",\"user\":\"u\","
	    "\"details\":{}}", &err), 0);
}

static void
test_written_records_validate(void **state)
{
	struct conduit_err err;
	char dir[] = "/tmp/conduit-audit-XXXXXX", path[256], *text, *line, *save;
	cJSON *d;
	int n = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "name", "evil\"\n\\name");
	assert_int_equal(conduit_audit_append(dir, "service_register", true,
	    "msg with \"quotes\" and\nnewline", d, &err), 0);
	assert_int_equal(conduit_audit_append(dir, "dns_flush", false, "", NULL, &err), 0);
	cJSON_Delete(d);
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	assert_int_equal(conduit_read_file(path, &text, NULL, &err), 0);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (conduit_audit_validate_line(line, &err) != 0)
			fail_msg("conduit wrote an invalid record: %s (%s)", line, err.msg);
		n++;
	}
	assert_int_equal(n, 2);
	free(text);
	unlink(path);
	snprintf(path, sizeof(path), "%s/audit.lock", dir);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conformance_fixtures),
		cmocka_unit_test(test_rejects_more),
		cmocka_unit_test(test_written_records_validate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
