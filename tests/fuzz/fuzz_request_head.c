/* SPDX-License-Identifier: MIT */
/* Requests' heads as clients send them (the API's accept front checks them before the
 * HTTP library: outside input), fed to ec_head_feed whole and again in pieces, each feed
 * given everything received so far, as the front does. The first four bytes choose: the
 * limits (byte 0) and up to three split points (bytes 1-3, scaled to the request's
 * length); the rest is the request. Fed in pieces, the verdicts are MORE until one is OK
 * or BAD, which then stays; the last verdict, and the status a refusal gives, are those
 * of the whole feed (byte 0's bit 2 feeds a short request a byte at a time instead); a refusal always says why; a head still incomplete at the end is
 * refused the same way by ec_head_overflow and ec_head_truncated either way. */
#include "tests/fuzz/fuzz.h"

#include "cache/api/request_head.h"

static ec_head_verdict feed_split(ec_head *h, const char *req, size_t n, const size_t *cuts,
                                  size_t ncuts)
{
    ec_head_verdict v = EC_HEAD_MORE, first_final = EC_HEAD_MORE;
    int first_status = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t upto = i < ncuts ? cuts[i] : n;
        v = ec_head_feed(h, req, upto);
        if (first_final != EC_HEAD_MORE) { /* decided: stays so */
            FUZZ_ASSERT(v == first_final && h->status == first_status);
        } else if (v != EC_HEAD_MORE) {
            first_final = v;
            first_status = h->status;
        }
        if (v == EC_HEAD_BAD)
            FUZZ_ASSERT(h->status >= 400 && h->status < 600 && h->msg[0]);
        if (v == EC_HEAD_OK)
            FUZZ_ASSERT(h->status == 0);
    }
    /* fed again, nothing new: the same */
    FUZZ_ASSERT(ec_head_feed(h, req, n) == v);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    static const ec_head_limits lims[] = {
        {.url_max = 8192, .header_max = 16384, .fields_max = 100},
        {.url_max = 16, .header_max = 64, .fields_max = 3},
        {.url_max = 1, .header_max = 8, .fields_max = 1},
        {.url_max = 256, .header_max = 256, .fields_max = 8},
    };
    const ec_head_limits *lim = &lims[data[0] % 4];
    const char *req = (const char *)data + 4;
    size_t n = size - 4;
    size_t cuts[3], ncuts = 0;
    for (int i = 1; i <= 3; i++) {
        size_t c = (size_t)data[i] * n / 256;
        size_t k = ncuts;
        while (k > 0 && cuts[k - 1] > c) { /* sorted */
            cuts[k] = cuts[k - 1];
            k--;
        }
        cuts[k] = c;
        ncuts++;
    }
    ec_head whole, split;
    ec_head_init(&whole, lim);
    ec_head_init(&split, lim);
    ec_head_verdict vw = ec_head_feed(&whole, req, n);
    if (vw == EC_HEAD_BAD)
        FUZZ_ASSERT(whole.status >= 400 && whole.status < 600 && whole.msg[0]);
    /* one byte at a time (for short requests, when byte 0 says so), else at the points */
    ec_head_verdict vs;
    if ((data[0] & 4) && n <= 64) {
        size_t all[64];
        for (size_t i = 0; i < n; i++)
            all[i] = i;
        vs = feed_split(&split, req, n, all, n);
    } else
        vs = feed_split(&split, req, n, cuts, ncuts);
    FUZZ_ASSERT(vs == vw && split.status == whole.status);
    if (vw == EC_HEAD_MORE) {
        ec_head w2 = whole, s2 = split;
        ec_head_overflow(&w2);
        ec_head_overflow(&s2);
        FUZZ_ASSERT(w2.status == s2.status && (w2.status == 414 || w2.status == 431));
        ec_head_truncated(&whole);
        ec_head_truncated(&split);
        FUZZ_ASSERT(whole.status == 400 && split.status == 400);
        FUZZ_ASSERT(ec_head_feed(&whole, req, n) == EC_HEAD_BAD);
    }
    return 0;
}
