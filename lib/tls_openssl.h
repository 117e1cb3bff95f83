/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The OpenSSL functions tls.c calls.  A dynamic sockserve does not link
 * OpenSSL: libssl.so.3 (and the libcrypto it needs) is loaded by tls_load()
 * when TLS is asked for, so that a server without TLS does not carry the
 * libraries' 1.7 MB of resident memory.  A static build links them
 * (SS_TLS_LINKED): there, pages that are not used are not resident.
 * Included by tls.c alone, after the OpenSSL headers.
 */
#ifndef SS_TLS_OPENSSL_H
#define SS_TLS_OPENSSL_H

#ifndef SS_TLS_LINKED
#include <dlfcn.h>

#define OPENSSL_FUNCTIONS(X) \
	X(BIO_ctrl) X(BIO_free) X(BIO_new) X(BIO_read) X(BIO_s_mem) X(BN_bin2bn) X(BN_free) X(BN_to_ASN1_INTEGER) \
	X(ERR_clear_error) X(ERR_peek_error) X(ERR_peek_last_error) X(ERR_reason_error_string) X(EVP_PKEY_Q_keygen) \
	X(EVP_PKEY_free) X(EVP_sha256) X(OPENSSL_sk_pop_free) X(RAND_bytes) X(SSL_CIPHER_get_name) \
	X(SSL_CTX_check_private_key) X(SSL_CTX_ctrl) X(SSL_CTX_free) X(SSL_CTX_get0_certificate) \
	X(SSL_CTX_load_verify_locations) X(SSL_CTX_new) X(SSL_CTX_set_alpn_select_cb) \
	X(SSL_CTX_set_client_CA_list) X(SSL_CTX_set_default_passwd_cb) X(SSL_CTX_set_default_read_buffer_len) \
	X(SSL_CTX_set_default_passwd_cb_userdata) X(SSL_CTX_set_options) X(SSL_CTX_set_verify) \
	X(SSL_CTX_use_PrivateKey) X(SSL_CTX_use_PrivateKey_file) X(SSL_CTX_use_certificate) \
	X(SSL_CTX_use_certificate_chain_file) X(SSL_accept) X(SSL_free) X(SSL_get0_alpn_selected) \
	X(SSL_get0_peer_certificate) X(SSL_get_current_cipher) X(SSL_get_error) X(SSL_get_servername) \
	X(SSL_get_rbio) X(SSL_get_verify_result) X(SSL_get_version) X(SSL_get_wbio) X(SSL_has_pending) \
	X(SSL_load_client_CA_file) X(SSL_new) X(SSL_read) \
	X(SSL_select_next_proto) X(SSL_set_fd) X(SSL_shutdown) X(SSL_write) X(TLS_server_method) \
	X(X509V3_EXT_conf_nid) X(X509V3_set_ctx) X(X509_EXTENSION_free) X(X509_NAME_add_entry_by_txt) \
	X(X509_NAME_free) X(X509_NAME_print_ex) X(X509_add_ext) X(X509_digest) X(X509_free) \
	X(X509_get_serialNumber) X(X509_get_subject_name) X(X509_getm_notAfter) X(X509_getm_notBefore) \
	X(X509_gmtime_adj) X(X509_new) X(X509_set_issuer_name) X(X509_set_pubkey) X(X509_set_version) \
	X(X509_sign) X(X509_verify_cert_error_string) 

#define DECLARE(f) static __typeof__(f) *p_##f;
OPENSSL_FUNCTIONS(DECLARE)
#undef DECLARE

/* Load libssl.so.3 once and find every function: 0, or -1 with err. */
static int tls_load(struct ss_error *err)
{
	static void *ssl;
	const char *missing = NULL;

	if (ssl != NULL)
		return 0;
	ssl = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
	if (ssl == NULL) {
		ss_error_set(err, SS_ERR_START, "TLS needs OpenSSL 3 (libssl.so.3; Debian's package libssl3): %s",
		             dlerror());
		return -1;
	}
	/* dlsym searches libssl and the libcrypto it depends on */
#define RESOLVE(f) \
	if (missing == NULL && (p_##f = (__typeof__(f) *)dlsym(ssl, #f)) == NULL) \
		missing = #f;
	OPENSSL_FUNCTIONS(RESOLVE)
#undef RESOLVE
	if (missing != NULL) {
		ss_error_set(err, SS_ERR_START, "TLS needs OpenSSL 3: libssl.so.3 has no %s", missing);
		dlclose(ssl);
		ssl = NULL;
		return -1;
	}
	return 0;
}

/* From here on each name is the function found. */
#define BIO_ctrl (*p_BIO_ctrl)
#define BIO_free (*p_BIO_free)
#define BIO_new (*p_BIO_new)
#define BIO_read (*p_BIO_read)
#define BIO_s_mem (*p_BIO_s_mem)
#define BN_bin2bn (*p_BN_bin2bn)
#define BN_free (*p_BN_free)
#define BN_to_ASN1_INTEGER (*p_BN_to_ASN1_INTEGER)
#define ERR_clear_error (*p_ERR_clear_error)
#define ERR_peek_error (*p_ERR_peek_error)
#define ERR_peek_last_error (*p_ERR_peek_last_error)
#define ERR_reason_error_string (*p_ERR_reason_error_string)
#define EVP_PKEY_Q_keygen (*p_EVP_PKEY_Q_keygen)
#define EVP_PKEY_free (*p_EVP_PKEY_free)
#define EVP_sha256 (*p_EVP_sha256)
#define OPENSSL_sk_pop_free (*p_OPENSSL_sk_pop_free)
#define RAND_bytes (*p_RAND_bytes)
#define SSL_CIPHER_get_name (*p_SSL_CIPHER_get_name)
#define SSL_CTX_check_private_key (*p_SSL_CTX_check_private_key)
#define SSL_CTX_ctrl (*p_SSL_CTX_ctrl)
#define SSL_CTX_free (*p_SSL_CTX_free)
#define SSL_CTX_get0_certificate (*p_SSL_CTX_get0_certificate)
#define SSL_CTX_load_verify_locations (*p_SSL_CTX_load_verify_locations)
#define SSL_CTX_new (*p_SSL_CTX_new)
#define SSL_CTX_set_alpn_select_cb (*p_SSL_CTX_set_alpn_select_cb)
#define SSL_CTX_set_client_CA_list (*p_SSL_CTX_set_client_CA_list)
#define SSL_CTX_set_default_read_buffer_len (*p_SSL_CTX_set_default_read_buffer_len)
#define SSL_CTX_set_default_passwd_cb (*p_SSL_CTX_set_default_passwd_cb)
#define SSL_CTX_set_default_passwd_cb_userdata (*p_SSL_CTX_set_default_passwd_cb_userdata)
#define SSL_CTX_set_options (*p_SSL_CTX_set_options)
#define SSL_CTX_set_verify (*p_SSL_CTX_set_verify)
#define SSL_CTX_use_PrivateKey (*p_SSL_CTX_use_PrivateKey)
#define SSL_CTX_use_PrivateKey_file (*p_SSL_CTX_use_PrivateKey_file)
#define SSL_CTX_use_certificate (*p_SSL_CTX_use_certificate)
#define SSL_CTX_use_certificate_chain_file (*p_SSL_CTX_use_certificate_chain_file)
#define SSL_accept (*p_SSL_accept)
#define SSL_free (*p_SSL_free)
#define SSL_get0_alpn_selected (*p_SSL_get0_alpn_selected)
#define SSL_get0_peer_certificate (*p_SSL_get0_peer_certificate)
#define SSL_get_current_cipher (*p_SSL_get_current_cipher)
#define SSL_get_error (*p_SSL_get_error)
#define SSL_get_servername (*p_SSL_get_servername)
#define SSL_get_rbio (*p_SSL_get_rbio)
#define SSL_get_verify_result (*p_SSL_get_verify_result)
#define SSL_get_version (*p_SSL_get_version)
#define SSL_get_wbio (*p_SSL_get_wbio)
#define SSL_has_pending (*p_SSL_has_pending)
#define SSL_load_client_CA_file (*p_SSL_load_client_CA_file)
#define SSL_new (*p_SSL_new)
#define SSL_read (*p_SSL_read)
#define SSL_select_next_proto (*p_SSL_select_next_proto)
#define SSL_set_fd (*p_SSL_set_fd)
#define SSL_shutdown (*p_SSL_shutdown)
#define SSL_write (*p_SSL_write)
#define TLS_server_method (*p_TLS_server_method)
#define X509V3_EXT_conf_nid (*p_X509V3_EXT_conf_nid)
#define X509V3_set_ctx (*p_X509V3_set_ctx)
#define X509_EXTENSION_free (*p_X509_EXTENSION_free)
#define X509_NAME_add_entry_by_txt (*p_X509_NAME_add_entry_by_txt)
#define X509_NAME_free (*p_X509_NAME_free)
#define X509_NAME_print_ex (*p_X509_NAME_print_ex)
#define X509_add_ext (*p_X509_add_ext)
#define X509_digest (*p_X509_digest)
#define X509_free (*p_X509_free)
#define X509_get_serialNumber (*p_X509_get_serialNumber)
#define X509_get_subject_name (*p_X509_get_subject_name)
#define X509_getm_notAfter (*p_X509_getm_notAfter)
#define X509_getm_notBefore (*p_X509_getm_notBefore)
#define X509_gmtime_adj (*p_X509_gmtime_adj)
#define X509_new (*p_X509_new)
#define X509_set_issuer_name (*p_X509_set_issuer_name)
#define X509_set_pubkey (*p_X509_set_pubkey)
#define X509_set_version (*p_X509_set_version)
#define X509_sign (*p_X509_sign)
#define X509_verify_cert_error_string (*p_X509_verify_cert_error_string)

#else
static int tls_load(struct ss_error *err)
{
	(void)err;
	return 0;
}
#endif

#endif
