/*
 * host.c - the local machine from procfs and statvfs, no subprocesses.
 *
 * Monitor runs every minute from cron, so this reads a handful of small
 * files and calls statvfs once per listed filesystem.  The parsers take
 * text, not paths: the remote fallback script ships the same files over
 * ssh and they go through the same code.
 *
 * Filesystems: mountinfo lists every mount, most of them pseudo (proc,
 * cgroup, tmpfs, overlay in containers) or the same device mounted twice
 * (bind mounts, Docker's /etc/hosts).  We keep real filesystem types,
 * one entry per device (the shortest mount point, as df does), and "/"
 * always, whatever its type, because "is the root disk full?" is the
 * question people ask first.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "conduit/monitor.h"

#define MAX_MOUNTS 512

int
conduit_mon_parse_stat(const char *text, struct conduit_cpu_times *t)
{
	unsigned long long v[8] = { 0 };
	const char *p;
	int got;

	if (text == NULL)
		return CONDUIT_EINVAL;
	/* The aggregate line is the first one starting "cpu ". */
	p = strstr(text, "cpu ");
	if (p == NULL || (p != text && p[-1] != '\n'))
		return CONDUIT_EINVAL;
	got = sscanf(p + 4, "%llu %llu %llu %llu %llu %llu %llu %llu",
	    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	if (got < 4)
		return CONDUIT_EINVAL;
	/* user nice system idle iowait irq softirq steal; guest time is
	 * already counted in user. */
	t->total = 0;
	for (int i = 0; i < 8; i++)
		t->total += v[i];
	t->idle = v[3] + v[4];
	return 0;
}

double
conduit_mon_cpu_percent(const struct conduit_cpu_times *a,
    const struct conduit_cpu_times *b)
{
	unsigned long long dt, di;

	if (b->total <= a->total || b->idle < a->idle)
		return NAN;
	dt = b->total - a->total;
	di = b->idle - a->idle;
	if (di > dt)
		return NAN;
	return 100.0 * (double)(dt - di) / (double)dt;
}

long
conduit_mon_parse_cpulist(const char *text)
{
	const char *p = text;
	long n = 0;

	if (text == NULL)
		return -1;
	/* Bounded: every iteration consumes at least one character. */
	while (*p != '\0' && *p != '\n') {
		char *end;
		long a, b;

		a = strtol(p, &end, 10);
		if (end == p || a < 0)
			return -1;
		b = a;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1 || b < a)
				return -1;
			p = end;
		}
		n += b - a + 1;
		if (*p == ',')
			p++;
		else if (*p != '\0' && *p != '\n')
			return -1;
	}
	return n > 0 ? n : -1;
}

/* Value in kB of "Key:" in meminfo text, or -1. */
static double
meminfo_kb(const char *text, const char *key)
{
	size_t kl = strlen(key);
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
			char *end;
			double v = strtod(p + kl + 1, &end);

			return end == p + kl + 1 ? -1 : v;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -1;
}

static double
pct(double used, double total)
{
	return total > 0 ? 100.0 * used / total : NAN;
}

int
conduit_mon_parse_meminfo(const char *text, cJSON *host)
{
	double total, avail, stotal, sfree;
	cJSON *mem, *swap;

	if (text == NULL)
		text = "";
	total = meminfo_kb(text, "MemTotal");
	avail = meminfo_kb(text, "MemAvailable");
	stotal = meminfo_kb(text, "SwapTotal");
	sfree = meminfo_kb(text, "SwapFree");
	mem = cJSON_AddObjectToObject(host, "memory");
	swap = cJSON_AddObjectToObject(host, "swap");
	if (mem == NULL || swap == NULL)
		return CONDUIT_ENOMEM;
	total = total < 0 ? NAN : total * 1024;
	avail = avail < 0 ? NAN : avail * 1024;
	conduit_mon_add_num(mem, "total_bytes", total);
	conduit_mon_add_num(mem, "available_bytes", avail);
	conduit_mon_add_num(mem, "used_bytes", total - avail);
	conduit_mon_add_num(mem, "used_percent", pct(total - avail, total));
	stotal = stotal < 0 ? NAN : stotal * 1024;
	sfree = sfree < 0 ? NAN : sfree * 1024;
	conduit_mon_add_num(swap, "total_bytes", stotal);
	conduit_mon_add_num(swap, "used_bytes", stotal - sfree);
	conduit_mon_add_num(swap, "used_percent", pct(stotal - sfree,
	    stotal));
	return isnan(total) ? CONDUIT_EINVAL : 0;
}

void
conduit_mon_parse_loadavg(const char *text, cJSON *host)
{
	double l[3] = { NAN, NAN, NAN };

	if (text == NULL || sscanf(text, "%lf %lf %lf", &l[0], &l[1],
	    &l[2]) != 3)
		l[0] = l[1] = l[2] = NAN;
	conduit_mon_add_num(host, "load_1m", l[0]);
	conduit_mon_add_num(host, "load_5m", l[1]);
	conduit_mon_add_num(host, "load_15m", l[2]);
}

void
conduit_mon_parse_uptime(const char *text, cJSON *host)
{
	double up;

	if (text == NULL || sscanf(text, "%lf", &up) != 1)
		up = NAN;
	conduit_mon_add_num(host, "uptime_seconds", up);
}

/* Copies one space-delimited mountinfo field, decoding \ooo escapes. */
static const char *
field(const char *p, char *out, size_t outlen)
{
	size_t o = 0;

	while (*p == ' ')
		p++;
	if (*p == '\0' || *p == '\n')
		return NULL;
	while (*p != '\0' && *p != ' ' && *p != '\n') {
		char c = *p++;

		if (c == '\\' && p[0] >= '0' && p[0] <= '3' && p[1] >= '0' &&
		    p[1] <= '7' && p[2] >= '0' && p[2] <= '7') {
			c = (char)((p[0] - '0') * 64 + (p[1] - '0') * 8 +
			    (p[2] - '0'));
			p += 3;
		}
		if (o + 1 >= outlen)
			return NULL;
		out[o++] = c;
	}
	out[o] = '\0';
	return p;
}

int
conduit_mon_parse_mountinfo_line(const char *line, struct conduit_mount *m)
{
	char tmp[4096];
	const char *p = line;

	/* id parent major:minor root mountpoint opts [optional...] - type
	 * source superopts */
	memset(m, 0, sizeof *m);
	if ((p = field(p, tmp, sizeof tmp)) == NULL ||
	    (p = field(p, tmp, sizeof tmp)) == NULL ||
	    (p = field(p, m->devno, sizeof m->devno)) == NULL ||
	    (p = field(p, tmp, sizeof tmp)) == NULL)
		return CONDUIT_EINVAL;
	m->whole = strcmp(tmp, "/") == 0;
	if ((p = field(p, m->mountpoint, sizeof m->mountpoint)) == NULL)
		return CONDUIT_EINVAL;
	/* Skip to the " - " separator; the optional fields vary. */
	p = strstr(p, " - ");
	if (p == NULL)
		return CONDUIT_EINVAL;
	p += 3;
	if ((p = field(p, m->fstype, sizeof m->fstype)) == NULL ||
	    field(p, m->source, sizeof m->source) == NULL)
		return CONDUIT_EINVAL;
	return 0;
}

bool
conduit_mon_fs_is_pseudo(const char *fstype)
{
	static const char *const pseudo[] = {
		"autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2",
		"configfs", "debugfs", "devpts", "devtmpfs", "efivarfs",
		"fusectl", "hugetlbfs", "mqueue", "nsfs", "overlay", "proc",
		"pstore", "ramfs", "rpc_pipefs", "securityfs", "selinuxfs",
		"squashfs", "sysfs", "tmpfs", "tracefs", "fuse.lxcfs",
		"fuse.gvfsd-fuse", "fuse.portal", "nfsd", "iso9660",
	};

	for (size_t i = 0; i < sizeof pseudo / sizeof pseudo[0]; i++)
		if (strcmp(fstype, pseudo[i]) == 0)
			return true;
	return false;
}

/* Whether m should stand for its device instead of cur. */
static bool
better(const struct conduit_mount *m, const struct conduit_mount *cur)
{
	if (strcmp(cur->mountpoint, "/") == 0)
		return false;
	if (strcmp(m->mountpoint, "/") == 0)
		return true;
	if (m->whole != cur->whole)
		return m->whole;
	return strlen(m->mountpoint) < strlen(cur->mountpoint);
}

int
conduit_mon_select_mounts(const char *mountinfo, struct conduit_mount **out,
    size_t *n, struct conduit_err *err)
{
	struct conduit_mount *v, m;
	const char *p = mountinfo;
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	v = calloc(MAX_MOUNTS, sizeof *v);
	if (v == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	for (size_t line = 0; p != NULL && *p != '\0' && line < 100000;
	    line++) {
		bool dup = false;

		if (conduit_mon_parse_mountinfo_line(p, &m) == 0) {
			if (strcmp(m.mountpoint, "/") != 0 &&
			    conduit_mon_fs_is_pseudo(m.fstype))
				goto next;
			/* A later mount on the same point hides the earlier
			 * one; the same device twice is listed once. */
			for (size_t i = 0; i < cnt; i++) {
				bool same_mp = strcmp(v[i].mountpoint,
				    m.mountpoint) == 0;
				bool same_dev = strcmp(v[i].devno,
				    m.devno) == 0;

				if (same_mp) {
					v[i] = m;
					dup = true;
					break;
				}
				if (same_dev) {
					if (better(&m, &v[i]))
						v[i] = m;
					dup = true;
					break;
				}
			}
			if (!dup && cnt < MAX_MOUNTS)
				v[cnt++] = m;
		}
next:
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	*out = v;
	*n = cnt;
	return 0;
}

cJSON *
conduit_mon_fs_json(const struct conduit_mount *m, double total,
    double avail, double freeb, double inodes, double ifree)
{
	cJSON *o = cJSON_CreateObject();
	double used = total - freeb;

	if (o == NULL)
		return NULL;
	conduit_mon_add_str(o, "mountpoint", m->mountpoint);
	conduit_mon_add_str(o, "device", m->source);
	conduit_mon_add_str(o, "fstype", m->fstype);
	conduit_mon_add_num(o, "total_bytes", total);
	conduit_mon_add_num(o, "used_bytes", used);
	conduit_mon_add_num(o, "available_bytes", avail);
	/* As df computes Use%: used over what non-root users can reach. */
	conduit_mon_add_num(o, "used_percent", pct(used, used + avail));
	if (inodes <= 0) {	/* btrfs and others report no inode table */
		inodes = NAN;
		ifree = NAN;
	}
	conduit_mon_add_num(o, "inodes_total", inodes);
	conduit_mon_add_num(o, "inodes_used", inodes - ifree);
	conduit_mon_add_num(o, "inodes_used_percent", pct(inodes - ifree,
	    inodes));
	return o;
}

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Small procfs files: one read into a fixed buffer. */
static char *
slurp(const char *path, char *buf, size_t len)
{
	FILE *fp = fopen(path, "re");
	size_t got;

	if (fp == NULL)
		return NULL;
	got = fread(buf, 1, len - 1, fp);
	fclose(fp);
	buf[got] = '\0';
	return buf;
}

/* A procfs file of any length (st_size is 0 there), up to 4 MiB. */
static char *
read_proc(const char *path)
{
	FILE *fp = fopen(path, "re");
	size_t len = 0, cap = 16384;
	char *buf = malloc(cap), *nb;

	if (fp == NULL || buf == NULL) {
		if (fp != NULL)
			fclose(fp);
		free(buf);
		return NULL;
	}
	for (;;) {
		len += fread(buf + len, 1, cap - len - 1, fp);
		if (len < cap - 1 || cap >= (4u << 20))
			break;
		nb = realloc(buf, cap * 2);
		if (nb == NULL)
			break;
		buf = nb;
		cap *= 2;
	}
	fclose(fp);
	buf[len] = '\0';
	return buf;
}

void
conduit_mon_cpu_begin(struct conduit_cpu_times *t, long long *t0_ms)
{
	char buf[1024];

	memset(t, 0, sizeof *t);
	if (conduit_mon_parse_stat(slurp("/proc/stat", buf, sizeof buf), t) !=
	    0)
		memset(t, 0, sizeof *t);
	*t0_ms = mono_ms();
}

static void
add_filesystems(cJSON *host)
{
	cJSON *arr = cJSON_AddArrayToObject(host, "filesystems");
	struct conduit_mount *mounts = NULL;
	size_t n = 0;
	char *text = NULL;

	if (arr == NULL || (text = read_proc("/proc/self/mountinfo")) == NULL)
		return;
	if (conduit_mon_select_mounts(text, &mounts, &n, NULL) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct statvfs sv;
			double f;

			if (statvfs(mounts[i].mountpoint, &sv) != 0)
				continue;
			if (sv.f_blocks == 0 &&
			    strcmp(mounts[i].mountpoint, "/") != 0)
				continue;
			f = (double)sv.f_frsize;
			cJSON_AddItemToArray(arr, conduit_mon_fs_json(
			    &mounts[i], (double)sv.f_blocks * f,
			    (double)sv.f_bavail * f, (double)sv.f_bfree * f,
			    (double)sv.f_files, (double)sv.f_ffree));
		}
	}
	free(mounts);
	free(text);
}

cJSON *
conduit_mon_host_collect(const struct conduit_cpu_times *t0, long long t0_ms,
    long sample_ms)
{
	cJSON *host = cJSON_CreateObject();
	struct conduit_cpu_times t1;
	struct utsname un;
	char buf[8192];
	long long left;
	long ncpu;

	if (host == NULL)
		return NULL;
	if (uname(&un) != 0)
		memset(&un, 0, sizeof un);
	conduit_mon_add_str(host, "hostname", un.nodename[0] ? un.nodename :
	    NULL);
	conduit_mon_add_str(host, "kernel", un.release[0] ? un.release :
	    NULL);
	conduit_mon_parse_uptime(slurp("/proc/uptime", buf, sizeof buf),
	    host);
	ncpu = conduit_mon_parse_cpulist(slurp(
	    "/sys/devices/system/cpu/online", buf, sizeof buf));
	if (ncpu < 0)
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	conduit_mon_add_num(host, "cpus", ncpu > 0 ? (double)ncpu : NAN);
	conduit_mon_parse_loadavg(slurp("/proc/loadavg", buf, sizeof buf),
	    host);

	left = t0_ms + sample_ms - mono_ms();
	if (left > 0 && left <= sample_ms) {
		struct timespec ts = { left / 1000, (left % 1000) * 1000000 };

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	if (t0->total != 0 && conduit_mon_parse_stat(slurp("/proc/stat", buf,
	    sizeof buf), &t1) == 0)
		conduit_mon_add_num(host, "cpu_percent",
		    conduit_mon_cpu_percent(t0, &t1));
	else
		cJSON_AddNullToObject(host, "cpu_percent");

	if (conduit_mon_parse_meminfo(slurp("/proc/meminfo", buf, sizeof buf),
	    host) != 0 && cJSON_GetObjectItem(host, "memory") == NULL) {
		cJSON_AddNullToObject(host, "memory");
		cJSON_AddNullToObject(host, "swap");
	}
	add_filesystems(host);
	return host;
}
