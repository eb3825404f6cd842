/* SPDX-License-Identifier: MIT */
/* Environment-armed fault injection; costs one getenv per call when unarmed. */
#include "store/util/fault.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EC_FAULT_MAX 16

static struct {
    char name[64];
    long at;
    long seen;
    bool kill;
} faults[EC_FAULT_MAX];
static int nfaults = -1;

static void parse_faults(void)
{
    const char *spec = getenv("EC_FAULTS");
    nfaults = 0;
    while (spec && *spec && nfaults < EC_FAULT_MAX) {
        size_t len = strcspn(spec, ",");
        char item[128];
        if (len >= sizeof item)
            len = sizeof item - 1;
        memcpy(item, spec, len);
        item[len] = '\0';
        spec += len + (spec[len] == ',');
        char *save = NULL;
        char *name = strtok_r(item, ":", &save);
        if (!name)
            continue;
        struct { char name[64]; long at; long seen; bool kill; } f = {{0}, 1, 0, false};
        strncpy(f.name, name, sizeof f.name - 1);
        for (char *tok; (tok = strtok_r(NULL, ":", &save));) {
            if (strcmp(tok, "kill") == 0)
                f.kill = true;
            else
                f.at = strtol(tok, NULL, 10);
        }
        memcpy(faults[nfaults].name, f.name, sizeof f.name);
        faults[nfaults].at = f.at;
        faults[nfaults].seen = 0;
        faults[nfaults].kill = f.kill;
        nfaults++;
    }
}

bool ec_fault(const char *name)
{
    if (nfaults < 0)
        parse_faults();
    for (int i = 0; i < nfaults; i++) {
        if (strcmp(faults[i].name, name) != 0)
            continue;
        if (++faults[i].seen != faults[i].at)
            return false;
        if (faults[i].kill)
            kill(getpid(), SIGKILL);
        return true;
    }
    return false;
}
