/*  node/config_show.c — `popebot-node config` (config_show.h).

    Rules: the values shown are the texts the parser took, so what is shown
    is what the role would run with; a secret's value is replaced by "***"
    whatever its source. JSON is built with jansson, so any value is
    escaped properly.
*/
#include "node/config_show.h"

#include <jansson.h>
#include <stdlib.h>

#define MASK "***"

static json_t *s_json(const config_t *cfg)
{
    json_t *flags = json_object();
    json_t *root = json_pack("{s:s, s:s?, s:o}", "role", config_mode_name(cfg->mode),
                             "config_file", cfg->config_file, "flags", flags);
    config_entry_t e;
    for (size_t pos = 0; root && config_entry(cfg, &pos, &e);) {
        const char *v = e.value && e.secret ? MASK : e.value;
        json_t *one = json_pack("{s:s?, s:s}", "value", v, "source", e.source);
        if (!one || json_object_set_new(flags, e.name, one) != 0) {
            json_decref(root);
            return NULL;
        }
    }
    return root;
}

static void s_text(const config_t *cfg, FILE *out)
{
    fprintf(out, "# role %s, config file %s\n", config_mode_name(cfg->mode),
            cfg->config_file ? cfg->config_file : "(none)");
    config_entry_t e;
    for (size_t pos = 0; config_entry(cfg, &pos, &e);)
        fprintf(out, "%-22s %-8s %s\n", e.name, e.source,
                !e.value ? "(unset)" : e.secret ? MASK : e.value);
}

int config_show(const config_t *cfg, FILE *out)
{
    if (!cfg->json) {
        s_text(cfg, out);
        return 0;
    }
    json_t *j = s_json(cfg);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        fprintf(stderr, "popebot-node: config: out of memory\n");
        return 1;
    }
    fprintf(out, "%s\n", text);
    free(text);
    return 0;
}

void config_show_usage(FILE *out)
{
    fprintf(out, "usage:\n"
                 "  popebot-node config [--role=coordinator|worker] [--config=FILE] [--json] [flags]\n\n"
                 "Prints every flag of the role (coordinator by default) with its effective\n"
                 "value and where it came from: default, file (--config / POPEBOT_CONFIG),\n"
                 "env (POPEBOT_*) or flag; the command line wins over the environment, which\n"
                 "wins over the file. Secrets (--join) are shown as " MASK ". The role's other\n"
                 "flags are checked as the role would check them (exit 2 if refused).\n");
}
