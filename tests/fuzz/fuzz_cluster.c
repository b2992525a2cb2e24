/*  tests/fuzz/fuzz_cluster.c — libFuzzer target: the body checks of worker
    registration, POST /api/clusters (cluster.create) and PATCH
    /api/clusters/{id} (cluster.patch), through node/coord_api.h
    coord_api_cluster_check, which runs without a coordinator loop.

    Input: a request body, parsed as the web layer parses bodies (duplicate
    keys refused); every body is checked both as a create and as a patch.

    What it asserts: a refusal is a non-empty reason; an accepted body has
    only the fields its operation allows, a create has name, roles and
    slots, slots is 1..100000, roles are distinct valid names, and label
    values are strings — what node/coord_api_cluster.c's header promises.
    Rules: C11, no state between inputs, everything allocated is freed.
*/
#include "node/coord_api.h"
#include "mesh/role.h"
#include "tests/fuzz/fuzz_check.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

static void s_accepted(json_t *body, bool create)
{
    static const char *const common[] = { "name", "roles", "labels", "slots", NULL };
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        bool known = strcmp(k, create ? "id" : "state") == 0;
        for (size_t i = 0; common[i] && !known; i++)
            known = strcmp(k, common[i]) == 0;
        FUZZ_CHECK(known, "only the operation's fields");
    }
    json_t *roles = json_object_get(body, "roles"), *slots = json_object_get(body, "slots");
    json_t *labels = json_object_get(body, "labels");
    if (create)
        FUZZ_CHECK(json_is_string(json_object_get(body, "name")) && roles && slots,
                   "a create has name, roles and slots");
    FUZZ_CHECK(!slots || (json_is_integer(slots) && json_integer_value(slots) >= 1 &&
                          json_integer_value(slots) <= 100000), "slots 1..100000");
    FUZZ_CHECK(!roles || json_is_array(roles), "roles is an array");
    size_t i, j;
    json_t *e, *f;
    json_array_foreach(roles, i, e) {
        FUZZ_CHECK(json_is_string(e) && role_name_valid(json_string_value(e)), "a role name");
        json_array_foreach(roles, j, f)
            FUZZ_CHECK(j >= i || !json_equal(e, f), "roles are distinct");
    }
    FUZZ_CHECK(!labels || json_is_object(labels), "labels is an object");
    json_object_foreach(labels, k, v)
        FUZZ_CHECK(json_is_string(v) && !strchr(json_string_value(v), ','), "a label value");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!body)
        return 0;
    for (int create = 0; create < 2; create++) {
        char why[160] = "";
        const char *problem = coord_api_cluster_check(body, create, why, sizeof why);
        if (problem)
            FUZZ_CHECK(problem[0] != '\0' && strlen(problem) < 400, "a refusal says why");
        else
            s_accepted(body, create);
    }
    json_decref(body);
    return 0;
}
