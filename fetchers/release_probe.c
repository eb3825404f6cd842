/* SPDX-License-Identifier: MIT */
/* Fetches an archive's InRelease in one request and hashes it. */
#include "fetchers/release_probe.h"

#include <curl/curl.h>
#include <string.h>

#include "store/util/buf.h"

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

int ec_release_probe(ec_digest *digest_out, char date[64], const char *url, ec_err *err)
{
    ec_buf body = {NULL, 0, 0, PROBE_MAX};
    CURL *h = curl_easy_init();
    if (!h)
        return ec_fail(err, EC_ENOMEM, "cannot start a transfer for %s", url);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    int r = EC_OK;
    if (rc != CURLE_OK)
        r = ec_fail(err, EC_ESYS, "%s: %s", url, curl_easy_strerror(rc));
    else if (status == 404)
        r = ec_fail(err, EC_ENOTFOUND, "%s: not found (HTTP 404)", url);
    else if (status >= 400)
        r = ec_fail(err, EC_ESYS, "%s: HTTP %ld", url, status);
    if (r == EC_OK) {
        ec_sha256_buf(digest_out, body.p ? body.p : "", body.n);
        find_date(date, body.p ? ec_buf_str(&body) : "");
    }
    ec_buf_fini(&body);
    return r;
}
