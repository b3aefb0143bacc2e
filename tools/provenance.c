#include "tools/provenance.h"

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/version.h"

static char g_cmdline[4096];
static char *g_argv[256];
static int g_argc;

void c1m_prov_set_argv(int argc, char **argv)
{
    size_t off = 0;
    g_argc = 0;
    for (int i = 0; i < argc && i < 255; i++) {
        size_t n = strlen(argv[i]);
        if (off + n + 1 > sizeof g_cmdline)
            break;
        memcpy(g_cmdline + off, argv[i], n + 1);
        g_argv[g_argc++] = g_cmdline + off;
        off += n + 1;
    }
    /* argv[0] is whatever path ran us: the command is "c1m" */
    if (g_argc)
        g_argv[0] = "c1m";
}

/* "c1m lab --conns 1M": arguments with spaces or quotes get single quotes */
static void cmdline_string(char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < g_argc && off < len; i++) {
        const char *a = g_argv[i];
        bool quote = !*a || strpbrk(a, " \t'\"$\\;&|<>*?()") != NULL;
        off += (size_t)snprintf(buf + off, len - off, quote ? "%s'%s'" : "%s%s", i ? " " : "", a);
    }
}

static void cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "re");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) || !colon)
            continue;
        colon++;
        while (*colon == ' ' || *colon == '\t')
            colon++;
        colon[strcspn(colon, "\n")] = 0;
        snprintf(buf, len, "%s", colon);
        break;
    }
    if (f)
        fclose(f);
}

static uint64_t meminfo_bytes(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[256];
    unsigned long long kib = 0;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') {
            sscanf(line + n + 1, "%llu", &kib);
            break;
        }
    if (f)
        fclose(f);
    return (uint64_t)kib * 1024;
}

static unsigned cpus_allowed(void)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 ? (unsigned)CPU_COUNT(&set) : 0;
}

typedef struct prov {
    char date[40], kernel[400], cpu[256], cmd[4096];
    long cpus_online;
    unsigned cpus_allowed;
    uint64_t mem, nofile_soft, nofile_hard;
    time_t t;
} prov_t;

static void collect(prov_t *p)
{
    memset(p, 0, sizeof *p);
    p->t = time(NULL);
    struct tm tm;
    gmtime_r(&p->t, &tm);
    strftime(p->date, sizeof p->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(p->kernel, sizeof p->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    cpu_model(p->cpu, sizeof p->cpu);
    p->cpus_online = sysconf(_SC_NPROCESSORS_ONLN);
    p->cpus_allowed = cpus_allowed();
    p->mem = meminfo_bytes("MemTotal");
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        p->nofile_soft = rl.rlim_cur == RLIM_INFINITY ? 0 : rl.rlim_cur;
        p->nofile_hard = rl.rlim_max == RLIM_INFINITY ? 0 : rl.rlim_max;
    }
    cmdline_string(p->cmd, sizeof p->cmd);
}

/* "name: before -> during" -> {name, before, during} */
static json_t *sysctl_json(const char *line)
{
    char name[160], before[160] = "", during[160] = "";
    snprintf(name, sizeof name, "%s", line);
    char *colon = strstr(name, ": ");
    if (colon) {
        *colon = 0;
        char *arrow = strstr(colon + 2, " -> ");
        if (arrow) {
            *arrow = 0;
            snprintf(during, sizeof during, "%s", arrow + 4);
        }
        snprintf(before, sizeof before, "%s", colon + 2);
    }
    return json_pack("{s:s,s:s,s:s,s:b}", "name", name, "before", before, "during", during,
                     "restored", 1);
}

json_t *c1m_prov_json(const char (*sysctls)[160], unsigned nsysctls)
{
    prov_t p;
    collect(&p);
    json_t *argv = json_array();
    for (int i = 0; i < g_argc; i++)
        json_array_append_new(argv, json_string(g_argv[i]));
    json_t *ks = json_array();
    for (unsigned i = 0; i < nsysctls; i++)
        json_array_append_new(ks, sysctl_json(sysctls[i]));
    json_t *o = json_pack("{s:s,s:s,s:s,s:I}", "c1m_version", c1m_version(), "c1m_commit",
                          c1m_version_commit(), "date_utc", p.date, "date_unix_s",
                          (json_int_t)p.t);
    json_object_update_new(
        o, json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "kernel", p.kernel, "cpu_model", p.cpu,
                     "cpus_online", (json_int_t)p.cpus_online, "cpus_allowed",
                     (json_int_t)p.cpus_allowed, "memory_bytes", (json_int_t)p.mem,
                     "open_files_soft", (json_int_t)p.nofile_soft, "open_files_hard",
                     (json_int_t)p.nofile_hard));
    json_object_set_new(o, "command_line", json_string(p.cmd));
    json_object_set_new(o, "argv", argv);
    json_object_set_new(o, "sysctls_changed", ks);
    return o;
}

void c1m_prov_markdown(FILE *f, const char (*sysctls)[160], unsigned nsysctls)
{
    prov_t p;
    collect(&p);
    const char *commit = c1m_version_commit();
    fprintf(f, "- c1m %s%s%s%s, %s\n", c1m_version(), *commit ? " (commit " : "", commit,
            *commit ? ")" : "", p.date);
    fprintf(f, "- machine: %s; %s, %ld CPUs online (%u usable by this run); %.1f GiB of "
               "memory; open files per process %llu (hard limit %llu)\n",
            p.kernel, p.cpu, p.cpus_online, p.cpus_allowed, (double)p.mem / (1 << 30),
            (unsigned long long)p.nofile_soft, (unsigned long long)p.nofile_hard);
    fprintf(f, "- command: `%s`\n", p.cmd);
    if (!nsysctls)
        fprintf(f, "- kernel settings: none changed\n");
    for (unsigned i = 0; i < nsysctls; i++)
        fprintf(f, "- kernel setting changed for the run and restored after: %s\n", sysctls[i]);
}
