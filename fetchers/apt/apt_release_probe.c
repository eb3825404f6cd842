/* SPDX-License-Identifier: MIT */
/* An archive's state in one request: its InRelease, hashed, and the Date it carries. No
 * signature check: the digest only keys a bootstrapped base, whose build (mmdebstrap)
 * verifies the archive itself. */
#include "fetchers/apt/apt_int.h"

#include <curl/curl.h>
#include <string.h>

#include "store/util/buf.h"
#include "store/util/mem.h"

#define PROBE_MAX ((size_t)4 << 20)

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    ec_buf *b = ud;
    return ec_buf_add(b, p, size * n, NULL) == EC_OK ? size * n : 0;
}

static void find_date(char date[64], const char *text)
{
    date[0] = '\0';
    for (const char *line = text; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, "Date: ", 6) == 0) {
            size_t n = strcspn(line + 6, "\r\n");
            if (n > 63)
                n = 63;
            memcpy(date, line + 6, n);
            date[n] = '\0';
            return;
        }
    }
}

/* Until the shared client (fetchers/http/http.h) is used here: libcurl's easy interface. */
static int probe_get(ec_buf *body, const char *url, ec_err *err)
{
    CURL *h = curl_easy_init();
    if (!h)
        return ec_fail(err, EC_ENOMEM, "cannot start a transfer for %s", url);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK)
        return ec_fail(err, EC_ESYS, "%s: %s", url, curl_easy_strerror(rc));
    if (status == 404)
        return ec_fail(err, EC_ENOTFOUND, "%s: not found (HTTP 404)", url);
    if (status >= 400)
        return ec_fail(err, EC_ESYS, "%s: HTTP %ld", url, status);
    return EC_OK;
}

int ec_apt_release_probe(ec_digest *digest_out, char date[64], const char *url,
                         const char *suite, ec_err *err)
{
    ec_buf body = {NULL, 0, 0, PROBE_MAX};
    EC_AUTOFREE char *inrelease = ec_xasprintf("%s/dists/%s/InRelease", url, suite);
    int r = probe_get(&body, inrelease, err);
    if (r == EC_OK) {
        ec_sha256_buf(digest_out, body.p ? body.p : "", body.n);
        find_date(date, body.p ? ec_buf_str(&body) : "");
    }
    ec_buf_fini(&body);
    return r;
}
