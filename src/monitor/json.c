/*
 * json.c - the few cJSON accessors the monitor document needs.
 *
 * The document is read by code that must treat "missing", "null" and
 * "wrong type" alike (a remote may run another conduit version), and
 * written by code that must never leave a documented key out; these
 * four helpers are where both rules live.
 */
#include <math.h>

#include <cjson/cJSON.h>

#include "conduit/monitor.h"

double
conduit_mon_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		return NAN;
	return v->valuedouble;
}

const char *
conduit_mon_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void
conduit_mon_add_num(cJSON *o, const char *key, double v)
{
	if (isnan(v) || isinf(v))
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddNumberToObject(o, key, v);
}

void
conduit_mon_add_str(cJSON *o, const char *key, const char *s)
{
	if (s == NULL)
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddStringToObject(o, key, s);
}
