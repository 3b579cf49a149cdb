/*
 * pki.c - conduit's root CA, made and read with OpenSSL 3.
 *
 * The root is self-signed, ten years, CA:TRUE with pathlen 1 (exactly
 * one intermediate below it: Caddy's), keyCertSign + cRLSign and a
 * subject key identifier.  ECDSA P-256 is the default because it is the
 * only modern key type every browser and TLS stack accepts; Ed25519 is
 * offered for closed fleets.  The key is written first (0600) and the
 * certificate last (0644), so an existing root.crt means a complete CA;
 * a half-made one (key without cert) is simply made again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "conduit/fsutil.h"
#include "conduit/pki.h"
#include "conduit/state.h"

static int
ossl_err(struct conduit_err *err, const char *what)
{
	char buf[256] = "unknown error";
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return conduit_err_set(err, CONDUIT_EIO, "%s: %s", what, buf);
}

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static X509 *
make_root(EVP_PKEY *key, bool ed25519, const char *domain)
{
	X509 *x = X509_new();
	X509_NAME *n;
	BIGNUM *bn = BN_new();
	char cn[300];
	bool ok;

	if (x == NULL || bn == NULL)
		goto fail;
	snprintf(cn, sizeof(cn), "conduit root CA (%s)", domain);
	/* 127 random bits: positive, unique, within RFC 5280's 20 octets. */
	ok = X509_set_version(x, 2) && BN_rand(bn, 127, BN_RAND_TOP_ANY,
	    BN_RAND_BOTTOM_ANY) && BN_to_ASN1_INTEGER(bn,
	    X509_get_serialNumber(x)) != NULL &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) != NULL &&
	    X509_time_adj_ex(X509_getm_notAfter(x), CONDUIT_PKI_ROOT_DAYS, 0,
	    NULL) != NULL && X509_set_pubkey(x, key);
	if (!ok)
		goto fail;
	n = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	    (const unsigned char *)"conduit", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, n))
		goto fail;
	if (add_ext(x, NID_basic_constraints, "critical,CA:TRUE,pathlen:1") ||
	    add_ext(x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    add_ext(x, NID_subject_key_identifier, "hash") ||
	    add_ext(x, NID_authority_key_identifier, "keyid:always"))
		goto fail;
	/* Ed25519 signs the message itself: no separate digest. */
	if (X509_sign(x, key, ed25519 ? NULL : EVP_sha256()) <= 0)
		goto fail;
	BN_free(bn);
	return x;
fail:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/* PEM of key or cert into a malloc'd buffer, via a memory BIO. */
static int
pem_out(EVP_PKEY *key, X509 *x, char **out, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int ok;

	if (b == NULL)
		return -1;
	ok = key ? PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
	    : PEM_write_bio_X509(b, x);
	n = BIO_get_mem_data(b, &p);
	if (!ok || n <= 0 || (*out = malloc((size_t)n)) == NULL) {
		BIO_free(b);
		return -1;
	}
	memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	BIO_free(b);
	return 0;
}

int
conduit_pki_init(const char *state_dir, const char *key_type,
    const char *domain, bool *created, struct conduit_err *err)
{
	char dir[4096], crt[4096], keyp[4096], *pem = NULL;
	bool ed = key_type != NULL && strcmp(key_type, "ed25519") == 0;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	struct stat st;
	size_t len;
	int rc;

	*created = false;
	if ((rc = conduit_state_path(dir, sizeof(dir), state_dir, CONDUIT_D_PKI,
	    err)) != 0 ||
	    (rc = conduit_state_path(crt, sizeof(crt), state_dir,
	    CONDUIT_D_PKI "/root.crt", err)) != 0 ||
	    (rc = conduit_state_path(keyp, sizeof(keyp), state_dir,
	    CONDUIT_D_PKI "/root.key", err)) != 0)
		return rc;
	if (lstat(crt, &st) == 0)
		return 0;	/* keep an existing CA, whatever --force says */
	if ((rc = conduit_mkdir_p(dir, 0700, err)) != 0)
		return rc;
	key = ed ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
	    : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (key == NULL)
		return ossl_err(err, "generating the root CA key");
	if ((x = make_root(key, ed, domain)) == NULL) {
		rc = ossl_err(err, "making the root CA certificate");
		goto out;
	}
	if (pem_out(key, NULL, &pem, &len) != 0) {
		rc = ossl_err(err, "encoding the root CA key");
		goto out;
	}
	rc = conduit_write_atomic(keyp, pem, len, 0600, err);
	OPENSSL_cleanse(pem, len);
	free(pem);
	pem = NULL;
	if (rc != 0)
		goto out;
	if (pem_out(NULL, x, &pem, &len) != 0) {
		rc = ossl_err(err, "encoding the root CA certificate");
		goto out;
	}
	if ((rc = conduit_write_atomic(crt, pem, len, 0644, err)) != 0)
		goto out;
	*created = true;
out:
	free(pem);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

void
conduit_pki_date(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static time_t
asn1_time(const ASN1_TIME *a)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!ASN1_TIME_to_tm(a, &tm))
		return 0;
	return timegm(&tm);
}

static void
name_str(const X509_NAME *n, char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long l;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB)
	    >= 0 && (l = BIO_get_mem_data(b, &p)) > 0)
		snprintf(out, len, "%.*s", (int)l, p);
	BIO_free(b);
}

static void
sans_str(X509 *x, char *out, size_t len)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL);
	size_t used = 0;
	int i;

	out[0] = '\0';
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char ip[64] = "";
		const char *v = NULL;
		int n;

		if (g->type == GEN_DNS)
			v = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
		else if (g->type == GEN_IPADD) {
			const unsigned char *d = ASN1_STRING_get0_data(g->d.iPAddress);
			if (ASN1_STRING_length(g->d.iPAddress) == 4)
				snprintf(ip, sizeof(ip), "%u.%u.%u.%u", d[0], d[1],
				    d[2], d[3]);
			v = ip[0] ? ip : NULL;
		}
		if (v == NULL)
			continue;
		n = snprintf(out + used, len - used, "%s%s", used ? ", " : "", v);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	GENERAL_NAMES_free(gens);
}

static void
key_str(X509 *x, char *out, size_t len)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	char group[64] = "";
	size_t gl = 0;

	if (k == NULL) {
		snprintf(out, len, "unknown");
		return;
	}
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_EC:
		(void)EVP_PKEY_get_group_name(k, group, sizeof(group), &gl);
		snprintf(out, len, "ECDSA %s",
		    strcmp(group, "prime256v1") == 0 ? "P-256" :
		    strcmp(group, "secp384r1") == 0 ? "P-384" : group);
		break;
	case EVP_PKEY_ED25519:
		snprintf(out, len, "Ed25519");
		break;
	case EVP_PKEY_RSA:
		snprintf(out, len, "RSA %d", EVP_PKEY_get_bits(k));
		break;
	default:
		snprintf(out, len, "%s", OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
	}
}

static int
fill_info(X509 *x, struct conduit_cert_info *ci)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	BIGNUM *bn;
	char *hex;

	memset(ci, 0, sizeof(*ci));
	name_str(X509_get_subject_name(x), ci->subject, sizeof(ci->subject));
	name_str(X509_get_issuer_name(x), ci->issuer, sizeof(ci->issuer));
	sans_str(x, ci->sans, sizeof(ci->sans));
	key_str(x, ci->key_type, sizeof(ci->key_type));
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	if (bn != NULL && (hex = BN_bn2hex(bn)) != NULL) {
		snprintf(ci->serial, sizeof(ci->serial), "%s", hex);
		OPENSSL_free(hex);
	}
	BN_free(bn);
	if (X509_digest(x, EVP_sha256(), md, &mdlen)) {
		size_t o = 0;
		for (i = 0; i < mdlen && o + 4 <= sizeof(ci->sha256); i++)
			o += (size_t)snprintf(ci->sha256 + o, sizeof(ci->sha256) - o,
			    "%s%02X", i ? ":" : "", md[i]);
	}
	ci->not_before = asn1_time(X509_get0_notBefore(x));
	ci->not_after = asn1_time(X509_get0_notAfter(x));
	ci->is_ca = X509_check_ca(x) > 0;
	return 0;
}

int
conduit_pki_cert_info_mem(const char *pem, size_t len,
    struct conduit_cert_info *ci, struct conduit_err *err)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x;

	if (b == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (x == NULL)
		return conduit_err_set(err, CONDUIT_ECORRUPT,
		    "no PEM certificate found");
	fill_info(x, ci);
	X509_free(x);
	return 0;
}

static int
read_cert(const char *path, X509 **x, struct conduit_err *err)
{
	char *data;
	size_t len;
	BIO *b;
	int rc;

	if ((rc = conduit_read_file(path, &data, &len, err)) != 0)
		return rc;
	b = BIO_new_mem_buf(data, (int)len);
	*x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	free(data);
	if (*x == NULL) {
		ERR_clear_error();
		return conduit_err_set(err, CONDUIT_ECORRUPT,
		    "%s holds no PEM certificate", path);
	}
	return 0;
}

int
conduit_pki_cert_info(const char *pem_path, struct conduit_cert_info *ci,
    struct conduit_err *err)
{
	X509 *x;
	int rc;

	if ((rc = read_cert(pem_path, &x, err)) != 0)
		return rc;
	fill_info(x, ci);
	X509_free(x);
	return 0;
}

int
conduit_pki_signed_by(const char *cert_path, const char *issuer_path,
    bool *ok, struct conduit_err *err)
{
	X509 *c = NULL, *i = NULL;
	EVP_PKEY *k;
	int rc;

	*ok = false;
	if ((rc = read_cert(cert_path, &c, err)) != 0)
		return rc;
	if ((rc = read_cert(issuer_path, &i, err)) != 0) {
		X509_free(c);
		return rc;
	}
	k = X509_get0_pubkey(i);
	*ok = k != NULL && X509_verify(c, k) == 1;
	ERR_clear_error();
	X509_free(c);
	X509_free(i);
	return 0;
}
