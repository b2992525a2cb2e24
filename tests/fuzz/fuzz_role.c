/*  tests/fuzz/fuzz_role.c — libFuzzer target: the role parsers (mesh/role.h),
    as a roles file (roleset_load_json) and as the HTTP API's role object
    (role_from_json, the object of POST/PUT /api/roles).

    Input: JSON text. It goes to roleset_load_json whole; then, parsed the
    way the web layer parses a body (duplicate keys refused), it goes to
    role_from_json: the object itself, or each entry of its "roles" array.

    What it asserts:
    - roleset_load_json is all-or-nothing: after a refusal the set holds
      only the built-ins; after success every added role is named validly;
    - a refusal has a non-empty, terminated reason;
    - every accepted role survives role_to_json -> role_from_json ->
      role_to_json unchanged (what the API shows and the store keeps can be
      read back), and its fields keep what role.h promises (max_attempts
      >= 1, a shell role has exactly one command line).
    Rules: C11, no state between inputs, everything allocated is freed.
*/
#include "mesh/role.h"
#include "tests/fuzz/fuzz_check.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void s_check_role(const role_t *r)
{
    FUZZ_CHECK(role_name_valid(r->name), "an accepted role has a valid name");
    FUZZ_CHECK(r->ncommand > 0 && r->max_attempts >= 1, "a command and at least one attempt");
    FUZZ_CHECK(!r->shell || r->ncommand == 1, "a shell role has one command line");
    json_t *j1 = role_to_json(r);
    FUZZ_CHECK(j1, "role_to_json");
    char err[300] = "";
    role_t *back = role_from_json(j1, err, sizeof err);
    if (!back)
        fprintf(stderr, "role_to_json wrote what role_from_json refuses: %s\n", err);
    FUZZ_CHECK(back, "a role reads back from its own JSON");
    json_t *j2 = role_to_json(back);
    FUZZ_CHECK(j2 && json_equal(j1, j2), "the role is the same after a round trip");
    json_decref(j2);
    json_decref(j1);
    role_destroy(&back);
}

static void s_one_object(json_t *o)
{
    char err[300] = "";
    role_t *r = role_from_json(o, err, sizeof err);
    if (r)
        s_check_role(r);
    else
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof err), "a refusal says why");
    role_destroy(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    FUZZ_CHECK(text, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';

    /* as a roles file */
    roleset_t set;
    char err[300] = "";
    FUZZ_CHECK(roleset_init(&set) == 0, "out of memory");
    size_t builtins = set.n;
    if (roleset_load_json(&set, text, err, sizeof err) == 0) {
        for (size_t i = builtins; i < set.n; i++)
            s_check_role(set.items[i]);
    } else {
        FUZZ_CHECK(set.n == builtins, "a refused file adds nothing");
        FUZZ_CHECK(err[0] != '\0', "a refusal says why");
    }
    roleset_free(&set);

    /* as the API's role objects */
    json_t *doc = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, NULL);
    json_t *roles = json_object_get(doc, "roles");
    if (json_is_array(roles)) {
        size_t i;
        json_t *o;
        json_array_foreach(roles, i, o)
            s_one_object(o);
    } else if (doc) {
        s_one_object(doc);
    }
    json_decref(doc);
    free(text);
    return 0;
}
