/*
 * curl_lazy.c - libcurl, loaded the first time conduit speaks HTTP.
 *
 * Debian's libcurl pulls in GnuTLS, Kerberos, LDAP, libssh2 and more;
 * linking it costs every conduit process ~3.4 ms of CPU at start-up
 * (measured: an empty program 0.5 ms, the same linked to libcurl 3.9 ms),
 * which is most of what `conduit monitor` on a host without Docker, `list`
 * or `register --no-reload` spend.  So the binary does not link it:
 * these definitions of the libcurl functions conduit uses load the real
 * libcurl.so.4 with dlopen() on first use and forward every call to it.
 * All HTTP is still libcurl's; only the binding is deferred.
 *
 * The two variadic setters forward their single argument by the type
 * libcurl itself derives from the option number (CURLOPTTYPE_*), the
 * getter its single pointer.  curl_global_init() is remembered and run
 * when the library is actually loaded; curl_global_cleanup() only when it
 * was.  If libcurl cannot be loaded, the constructors (curl_easy_init,
 * curl_multi_init, curl_slist_append) return NULL as libcurl does when it
 * runs out of memory, and the callers report their usual error.
 */
#define CURL_DISABLE_TYPECHECK 1

#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

static struct {
	bool tried, ok, global_wanted, global_done;
	long global_flags;
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int, int,
	    int *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
} lc;

static bool
load(void)
{
	void *h;

	if (lc.tried)
		return lc.ok;
	lc.tried = true;
	if ((h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL)) == NULL)
		return false;
#define SYM(field, name) \
	if ((*(void **)(&lc.field) = dlsym(h, name)) == NULL) \
		return false
	SYM(global_init, "curl_global_init");
	SYM(global_cleanup, "curl_global_cleanup");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
	SYM(multi_init, "curl_multi_init");
	SYM(multi_add_handle, "curl_multi_add_handle");
	SYM(multi_remove_handle, "curl_multi_remove_handle");
	SYM(multi_perform, "curl_multi_perform");
	SYM(multi_cleanup, "curl_multi_cleanup");
	SYM(multi_info_read, "curl_multi_info_read");
	SYM(multi_poll, "curl_multi_poll");
	SYM(multi_setopt, "curl_multi_setopt");
#undef SYM
	lc.ok = true;
	if (lc.global_wanted && lc.global_init(lc.global_flags) == CURLE_OK)
		lc.global_done = true;
	return true;
}

CURLcode
curl_global_init(long flags)
{
	if (lc.ok) {
		CURLcode rc = lc.global_init(flags);
		lc.global_done = rc == CURLE_OK;
		return rc;
	}
	lc.global_wanted = true;
	lc.global_flags = flags;
	return CURLE_OK;
}

void
curl_global_cleanup(void)
{
	if (lc.ok && lc.global_done)
		lc.global_cleanup();
	lc.global_done = false;
	lc.global_wanted = false;
}

CURL *
curl_easy_init(void)
{
	return load() ? lc.easy_init() : NULL;
}

/* The one argument after an option, by the type its number implies:
 * libcurl's own rule (CURLOPTTYPE_*), shared by easy and multi options.
 * The caller's return type is the setter's. */
#define FORWARD_OPTION(rc, fn, handle, option, ap) do {			\
	if ((long)(option) < CURLOPTTYPE_OBJECTPOINT)			\
		(rc) = fn((handle), (option), va_arg((ap), long));	\
	else if ((long)(option) >= CURLOPTTYPE_OFF_T &&			\
	    (long)(option) < CURLOPTTYPE_BLOB)				\
		(rc) = fn((handle), (option), va_arg((ap), curl_off_t));\
	else								\
		(rc) = fn((handle), (option), va_arg((ap), void *));	\
} while (0)

CURLcode
curl_easy_setopt(CURL *h, CURLoption option, ...)
{
	va_list ap;
	CURLcode rc;

	if (!load())
		return CURLE_FAILED_INIT;
	va_start(ap, option);
	FORWARD_OPTION(rc, lc.easy_setopt, h, option, ap);
	va_end(ap);
	return rc;
}

CURLcode
curl_easy_perform(CURL *h)
{
	return load() ? lc.easy_perform(h) : CURLE_FAILED_INIT;
}

void
curl_easy_cleanup(CURL *h)
{
	if (lc.ok)
		lc.easy_cleanup(h);
}

CURLcode
curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	va_list ap;
	void *p;

	if (!load())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	p = va_arg(ap, void *);	/* every CURLINFO takes a pointer */
	va_end(ap);
	return lc.easy_getinfo(h, info, p);
}

const char *
curl_easy_strerror(CURLcode code)
{
	return load() ? lc.easy_strerror(code) : "libcurl.so.4 cannot be loaded";
}

struct curl_slist *
curl_slist_append(struct curl_slist *list, const char *data)
{
	return load() ? lc.slist_append(list, data) : NULL;
}

void
curl_slist_free_all(struct curl_slist *list)
{
	if (lc.ok)
		lc.slist_free_all(list);
}

CURLM *
curl_multi_init(void)
{
	return load() ? lc.multi_init() : NULL;
}

CURLMcode
curl_multi_add_handle(CURLM *m, CURL *h)
{
	return load() ? lc.multi_add_handle(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode
curl_multi_remove_handle(CURLM *m, CURL *h)
{
	return load() ? lc.multi_remove_handle(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode
curl_multi_perform(CURLM *m, int *running)
{
	return load() ? lc.multi_perform(m, running) : CURLM_INTERNAL_ERROR;
}

CURLMcode
curl_multi_cleanup(CURLM *m)
{
	return lc.ok ? lc.multi_cleanup(m) : CURLM_OK;
}

CURLMsg *
curl_multi_info_read(CURLM *m, int *left)
{
	return load() ? lc.multi_info_read(m, left) : NULL;
}

CURLMcode
curl_multi_poll(CURLM *m, struct curl_waitfd extra[], unsigned int n,
    int timeout_ms, int *ret)
{
	return load() ? lc.multi_poll(m, extra, n, timeout_ms, ret) :
	    CURLM_INTERNAL_ERROR;
}

CURLMcode
curl_multi_setopt(CURLM *m, CURLMoption option, ...)
{
	va_list ap;
	CURLMcode rc;

	if (!load())
		return CURLM_INTERNAL_ERROR;
	va_start(ap, option);
	FORWARD_OPTION(rc, lc.multi_setopt, m, option, ap);
	va_end(ap);
	return rc;
}
